//! The demo catalog's raw material: well-known specialities of each of the 34 provinces (after the
//! July 2025 merger, so Hà Giang's honey is Tuyên Quang's), and everyday OCOP product kinds.

use crate::domain::Sector::{self, *};

/// (name, sector, unit, price in đồng, weight in grams)
pub type Item = (&'static str, Sector, &'static str, i64, Option<i32>);

pub const SPECIALTIES: &[(i16, &[Item])] = &[
    (
        1,
        &[
            ("Gốm sứ Bát Tràng", Souvenir, "bộ", 450_000, Some(1800)),
            ("Lụa Vạn Phúc", Textile, "khăn", 380_000, Some(120)),
            ("Bánh chưng Tranh Khúc", Food, "chiếc", 85_000, Some(1000)),
            ("Sữa chua nếp cẩm Ba Vì", Food, "hộp", 45_000, Some(500)),
        ],
    ),
    (
        4,
        &[
            ("Hạt dẻ Trùng Khánh", Food, "kg", 220_000, Some(1000)),
            ("Bánh khảo Cao Bằng", Food, "hộp", 60_000, Some(400)),
            ("Hương nhang Phia Thắp", Souvenir, "bó", 50_000, Some(300)),
        ],
    ),
    (
        8,
        &[
            ("Mật ong bạc hà Đồng Văn", Food, "chai", 350_000, Some(500)),
            (
                "Chè Shan tuyết Hoàng Su Phì",
                Beverage,
                "hộp",
                280_000,
                Some(200),
            ),
            ("Cam sành Hàm Yên", Food, "kg", 35_000, Some(1000)),
            ("Vải lanh Lũng Tám", Textile, "tấm", 650_000, Some(400)),
        ],
    ),
    (
        11,
        &[
            ("Gạo Điện Biên", Food, "túi", 120_000, Some(5000)),
            ("Cà phê Mường Ảng", Beverage, "gói", 150_000, Some(500)),
            (
                "Khăn piêu Thái Mường Lay",
                Textile,
                "chiếc",
                320_000,
                Some(150),
            ),
        ],
    ),
    (
        12,
        &[
            ("Chè Tam Đường", Beverage, "hộp", 180_000, Some(200)),
            ("Sâm Lai Châu", Herbal, "hộp", 1_200_000, Some(100)),
            ("Hạt mắc khén Lai Châu", Food, "lọ", 90_000, Some(100)),
        ],
    ),
    (
        14,
        &[
            ("Cà phê Arabica Sơn La", Beverage, "gói", 170_000, Some(500)),
            ("Mận hậu Mộc Châu", Food, "kg", 40_000, Some(1000)),
            ("Chè Shan tuyết Tà Xùa", Beverage, "hộp", 320_000, Some(200)),
            ("Du lịch cộng đồng bản Áng", Tourism, "vé", 250_000, None),
        ],
    ),
    (
        15,
        &[
            ("Rượu táo mèo Bắc Hà", Beverage, "chai", 180_000, Some(750)),
            ("Tinh dầu quế Văn Yên", Herbal, "lọ", 120_000, Some(50)),
            ("Thổ cẩm Sa Pa", Textile, "túi", 260_000, Some(300)),
            ("Homestay bản Tả Van", Tourism, "đêm", 450_000, None),
        ],
    ),
    (
        19,
        &[
            ("Chè Tân Cương", Beverage, "hộp", 250_000, Some(200)),
            ("Miến dong Na Rì", Food, "gói", 65_000, Some(500)),
            ("Bánh chưng Bờ Đậu", Food, "chiếc", 70_000, Some(800)),
        ],
    ),
    (
        20,
        &[
            ("Tinh dầu hồi Văn Quan", Herbal, "lọ", 150_000, Some(50)),
            ("Na Chi Lăng", Food, "kg", 60_000, Some(1000)),
            ("Quýt vàng Bắc Sơn", Food, "kg", 55_000, Some(1000)),
        ],
    ),
    (
        22,
        &[
            ("Miến dong Bình Liêu", Food, "gói", 70_000, Some(500)),
            ("Trà hoa vàng Ba Chẽ", Beverage, "hộp", 480_000, Some(100)),
            ("Chả mực Hạ Long", Food, "kg", 380_000, Some(1000)),
            ("Nước mắm Cái Rồng", Food, "chai", 95_000, Some(500)),
        ],
    ),
    (
        24,
        &[
            ("Bánh đa Kế", Food, "gói", 40_000, Some(500)),
            ("Vải thiều Lục Ngạn", Food, "kg", 45_000, Some(1000)),
            ("Tranh Đông Hồ", Souvenir, "bức", 150_000, Some(200)),
            ("Gốm Phù Lãng", Souvenir, "chiếc", 550_000, Some(2500)),
        ],
    ),
    (
        25,
        &[
            ("Bưởi Đoan Hùng", Food, "quả", 50_000, Some(1200)),
            ("Cam Cao Phong", Food, "kg", 40_000, Some(1000)),
            ("Thịt chua Thanh Sơn", Food, "hộp", 120_000, Some(300)),
            ("Du lịch cộng đồng bản Lác", Tourism, "vé", 300_000, None),
        ],
    ),
    (
        31,
        &[
            ("Bánh đa cua Hải Phòng", Food, "gói", 45_000, Some(500)),
            ("Bánh gai Ninh Giang", Food, "hộp", 60_000, Some(600)),
            ("Vải thiều Thanh Hà", Food, "kg", 50_000, Some(1000)),
            ("Nước mắm Cát Hải", Food, "chai", 110_000, Some(500)),
        ],
    ),
    (
        33,
        &[
            ("Nhãn lồng Hưng Yên", Food, "kg", 60_000, Some(1000)),
            ("Tương Bần", Food, "chai", 35_000, Some(500)),
            ("Bánh cáy Thái Bình", Food, "hộp", 50_000, Some(300)),
            ("Chiếu cói Hới", Souvenir, "chiếc", 280_000, Some(2000)),
        ],
    ),
    (
        37,
        &[
            ("Cơm cháy Ninh Bình", Food, "gói", 55_000, Some(300)),
            ("Rượu Kim Sơn", Beverage, "chai", 150_000, Some(750)),
            ("Thêu ren Văn Lâm", Textile, "khăn", 350_000, Some(150)),
            ("Kẹo Sìu Châu Nam Định", Food, "hộp", 45_000, Some(300)),
        ],
    ),
    (
        38,
        &[
            ("Nem chua Thanh Hóa", Food, "chục", 60_000, Some(500)),
            ("Chiếu cói Nga Sơn", Souvenir, "chiếc", 320_000, Some(2000)),
            ("Mắm tôm Hậu Lộc", Food, "hũ", 50_000, Some(500)),
        ],
    ),
    (
        40,
        &[
            ("Cam Vinh", Food, "kg", 45_000, Some(1000)),
            ("Nhút Thanh Chương", Food, "hũ", 40_000, Some(500)),
            ("Chè xanh Anh Sơn", Beverage, "hộp", 120_000, Some(200)),
        ],
    ),
    (
        42,
        &[
            ("Kẹo cu đơ Hà Tĩnh", Food, "hộp", 50_000, Some(400)),
            ("Bưởi Phúc Trạch", Food, "quả", 60_000, Some(1300)),
            ("Nước mắm Cửa Sót", Food, "chai", 85_000, Some(500)),
        ],
    ),
    (
        44,
        &[
            ("Hồ tiêu Cồn Tiên", Food, "hũ", 90_000, Some(200)),
            ("Cà phê Khe Sanh", Beverage, "gói", 140_000, Some(500)),
            ("Tinh dầu tràm Quảng Trị", Herbal, "lọ", 80_000, Some(100)),
            ("Khoai deo Quảng Bình", Food, "gói", 75_000, Some(500)),
        ],
    ),
    (
        46,
        &[
            ("Mè xửng Huế", Food, "hộp", 40_000, Some(300)),
            ("Nón lá Huế", Souvenir, "chiếc", 120_000, Some(250)),
            ("Trà cung đình Huế", Beverage, "hộp", 150_000, Some(200)),
        ],
    ),
    (
        48,
        &[
            ("Nước mắm Nam Ô", Food, "chai", 120_000, Some(500)),
            (
                "Sâm Ngọc Linh Nam Trà My",
                Herbal,
                "hộp",
                2_500_000,
                Some(100),
            ),
            ("Lụa Mã Châu", Textile, "khăn", 420_000, Some(150)),
            (
                "Đá mỹ nghệ Non Nước",
                Souvenir,
                "tượng",
                680_000,
                Some(3000),
            ),
        ],
    ),
    (
        51,
        &[
            ("Mạch nha Thu Xà", Food, "hũ", 60_000, Some(500)),
            ("Tỏi Lý Sơn", Food, "kg", 180_000, Some(1000)),
            ("Sâm dây Kon Tum", Herbal, "hộp", 350_000, Some(200)),
        ],
    ),
    (
        52,
        &[
            ("Rượu Bàu Đá", Beverage, "chai", 160_000, Some(750)),
            ("Nem chợ Huyện", Food, "chục", 55_000, Some(400)),
            ("Tiêu Chư Sê", Food, "hũ", 85_000, Some(250)),
        ],
    ),
    (
        56,
        &[
            ("Yến sào Khánh Hòa", Food, "hộp", 2_800_000, Some(100)),
            ("Nho Ninh Thuận", Food, "kg", 70_000, Some(1000)),
            ("Gốm Bàu Trúc", Souvenir, "chiếc", 300_000, Some(1500)),
            ("Thổ cẩm Mỹ Nghiệp", Textile, "khăn", 280_000, Some(200)),
        ],
    ),
    (
        66,
        &[
            ("Cà phê Buôn Ma Thuột", Beverage, "gói", 160_000, Some(500)),
            ("Sầu riêng Krông Pắc", Food, "kg", 120_000, Some(1000)),
            ("Bánh tráng Hòa Đa", Food, "xấp", 35_000, Some(500)),
        ],
    ),
    (
        68,
        &[
            ("Trà Ô long Bảo Lộc", Beverage, "hộp", 260_000, Some(250)),
            ("Trà atiso Đà Lạt", Herbal, "hộp", 95_000, Some(200)),
            ("Nước mắm Phan Thiết", Food, "chai", 90_000, Some(500)),
            ("Tơ lụa Bảo Lộc", Textile, "khăn", 390_000, Some(150)),
        ],
    ),
    (
        75,
        &[
            ("Bưởi Tân Triều", Food, "quả", 55_000, Some(1200)),
            ("Hạt điều Bình Phước", Food, "hũ", 190_000, Some(500)),
            ("Gốm Biên Hòa", Souvenir, "chiếc", 420_000, Some(2000)),
        ],
    ),
    (
        79,
        &[
            (
                "Sơn mài Tương Bình Hiệp",
                Souvenir,
                "bức",
                850_000,
                Some(1500),
            ),
            ("Măng cụt Lái Thiêu", Food, "kg", 80_000, Some(1000)),
            ("Khô cá dứa Cần Giờ", Food, "gói", 260_000, Some(500)),
        ],
    ),
    (
        80,
        &[
            (
                "Bánh tráng phơi sương Trảng Bàng",
                Food,
                "xấp",
                40_000,
                Some(500),
            ),
            ("Muối tôm Tây Ninh", Food, "hũ", 35_000, Some(200)),
            ("Lạp xưởng Cần Đước", Food, "kg", 220_000, Some(1000)),
        ],
    ),
    (
        82,
        &[
            ("Hạt sen Tháp Mười", Food, "gói", 110_000, Some(500)),
            ("Xoài Cao Lãnh", Food, "kg", 45_000, Some(1000)),
            ("Hủ tiếu Mỹ Tho", Food, "gói", 40_000, Some(500)),
            ("Chiếu Định Yên", Souvenir, "chiếc", 250_000, Some(1800)),
        ],
    ),
    (
        86,
        &[
            ("Kẹo dừa Bến Tre", Food, "hộp", 45_000, Some(400)),
            ("Bưởi Năm Roi Vĩnh Long", Food, "quả", 45_000, Some(1200)),
            ("Gốm đỏ Vĩnh Long", Souvenir, "chiếc", 200_000, Some(1500)),
            ("Du lịch cù lao An Bình", Tourism, "vé", 350_000, None),
        ],
    ),
    (
        91,
        &[
            ("Nước mắm Phú Quốc", Food, "chai", 135_000, Some(500)),
            ("Đường thốt nốt An Giang", Food, "hũ", 60_000, Some(500)),
            ("Mắm Châu Đốc", Food, "hũ", 90_000, Some(500)),
            ("Rượu sim Phú Quốc", Beverage, "chai", 170_000, Some(500)),
        ],
    ),
    (
        92,
        &[
            ("Gạo ST25", Food, "túi", 180_000, Some(5000)),
            ("Bánh pía Sóc Trăng", Food, "hộp", 75_000, Some(500)),
            ("Du lịch chợ nổi Cái Răng", Tourism, "vé", 200_000, None),
        ],
    ),
    (
        96,
        &[
            ("Mật ong rừng U Minh", Food, "chai", 300_000, Some(500)),
            ("Khô cá bổi Cà Mau", Food, "gói", 240_000, Some(500)),
            ("Muối Bạc Liêu", Food, "hũ", 30_000, Some(500)),
        ],
    ),
];

/// Everyday kinds any commune may make, named after the commune.
pub const GENERIC: &[Item] = &[
    ("Mật ong rừng", Food, "chai", 250_000, Some(500)),
    ("Gạo nếp cái hoa vàng", Food, "túi", 95_000, Some(2000)),
    ("Măng khô", Food, "gói", 120_000, Some(500)),
    ("Mứt gừng", Food, "hộp", 55_000, Some(300)),
    ("Tương ớt", Food, "chai", 30_000, Some(300)),
    ("Ruốc tôm", Food, "hũ", 160_000, Some(200)),
    ("Trà xanh", Beverage, "hộp", 110_000, Some(200)),
    ("Rượu nếp cẩm", Beverage, "chai", 120_000, Some(750)),
    ("Nước cốt chanh dây", Beverage, "chai", 65_000, Some(500)),
    ("Trà cà gai leo", Herbal, "hộp", 90_000, Some(200)),
    ("Tinh dầu sả chanh", Herbal, "lọ", 70_000, Some(50)),
    ("Cao dược liệu", Herbal, "hũ", 240_000, Some(200)),
    ("Khăn thổ cẩm", Textile, "chiếc", 180_000, Some(150)),
    ("Túi vải dệt tay", Textile, "chiếc", 220_000, Some(250)),
    ("Giỏ mây tre đan", Souvenir, "chiếc", 160_000, Some(600)),
    ("Đũa tre mỹ nghệ", Souvenir, "bộ", 60_000, Some(200)),
    ("Tour trải nghiệm làng nghề", Tourism, "vé", 280_000, None),
];

pub const BRANDS: &[&str] = &[
    "Hương Quê",
    "Đất Lành",
    "Sao Việt",
    "An Nhiên",
    "Nông Sản Xanh",
    "Phúc Lộc",
    "Mộc Gia",
    "Tâm An",
    "Bình Minh",
    "Hồng Phát",
    "Thiên Nhiên",
    "Quê Nhà",
];

pub const PEOPLE: &[&str] = &[
    "Nguyễn Thị Hoa",
    "Trần Văn Minh",
    "Lê Thị Lan",
    "Phạm Văn Hùng",
    "Hoàng Thị Mai",
    "Vũ Văn Nam",
    "Đặng Thị Thu",
    "Bùi Văn Tuấn",
    "Đỗ Thị Hằng",
    "Lò Văn Páo",
    "Giàng A Sử",
    "Hà Thị Nguyệt",
    "Lương Văn Khánh",
    "Nông Thị Bích",
];

pub fn story(sector: Sector, name: &str, producer: &str, commune: &str, province: &str) -> String {
    match sector {
        Food => format!(
            "{name} là đặc sản của {commune}, {province}. {producer} chọn nguyên liệu tại vùng trồng của địa phương, chế biến theo cách làm truyền thống được truyền qua nhiều thế hệ, không dùng chất bảo quản. Sản phẩm được đóng gói, ghi nhãn và truy xuất nguồn gốc bằng mã QR."
        ),
        Beverage => format!(
            "{name} do {producer} sản xuất tại {commune}, {province}. Nguyên liệu được thu hái đúng mùa, sơ chế ngay trong ngày và ủ, sao theo bí quyết của người dân trong vùng, giữ trọn hương vị đặc trưng của quê hương."
        ),
        Herbal => format!(
            "{name} được {producer} làm từ dược liệu trồng và khai thác bền vững tại {commune}, {province}. Quy trình sơ chế, sấy và chiết xuất được kiểm soát chặt chẽ để giữ lại dược tính tự nhiên."
        ),
        Textile => format!(
            "{name} do các nghệ nhân của {producer} dệt và may thủ công tại {commune}, {province}. Hoa văn mang đậm bản sắc văn hóa của đồng bào địa phương, màu nhuộm từ lá cây và vỏ cây tự nhiên."
        ),
        Souvenir => format!(
            "{name} là sản phẩm làng nghề của {commune}, {province}. Từng sản phẩm được {producer} làm hoàn toàn bằng tay, mỗi chiếc một nét riêng, thích hợp làm quà tặng và trang trí."
        ),
        Tourism => format!(
            "{name}: trải nghiệm cuộc sống của người dân {commune}, {province} cùng {producer}. Du khách tham gia làm nông, nấu món ăn truyền thống, nghe kể chuyện làng và nghỉ tại nhà dân."
        ),
    }
}
