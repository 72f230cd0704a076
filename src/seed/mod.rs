//! Catalog seeds: `--demo`, a realistic shop for people to click through, and `--scale N`, N
//! synthetic products for benchmarks. Both are deterministic and idempotent: running one twice
//! changes nothing.

mod data;
pub mod orders;

use crate::catalog::snapshot::{Admin, Commune};
use crate::domain::{ProducerType, Sector, Stars, default_expiry, slugify};
use sqlx::PgPool;
use std::collections::HashSet;
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

/// A small, fixed pseudo-random source: the same seed gives the same catalog on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Debug, Default)]
pub struct Summary {
    pub producers_added: u64,
    pub products_added: u64,
    pub certificates_added: u64,
    pub products_total: i64,
    pub seconds: f64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed: {} producers, {} products, {} certificates added in {:.1}s; {} products in the catalog",
            self.producers_added,
            self.products_added,
            self.certificates_added,
            self.seconds,
            self.products_total
        )
    }
}

fn short_place(commune: &str) -> &str {
    commune
        .trim_start_matches("Xã ")
        .trim_start_matches("Phường ")
        .trim_start_matches("Đặc khu ")
}

/// The rows both seeds write, generated in memory first and then written in bulk.
#[derive(Default)]
struct Batch {
    producers: Vec<NewProducer>,
    products: Vec<NewProduct>,
}

struct NewProducer {
    slug: String,
    name: String,
    kind: ProducerType,
    province: i16,
    commune: i32,
    address: String,
    phone: String,
    story: String,
}

struct NewProduct {
    producer_slug: String,
    slug: String,
    name: String,
    sector: Sector,
    story: String,
    price: i64,
    stock: i32,
    unit: String,
    weight: Option<i32>,
    created_at: OffsetDateTime,
    stars: Stars,
    decision: String,
    body: String,
    issued_on: Date,
    potential: bool,
    revoked: Option<(Date, String)>,
}

const REVOKE_REASONS: &[&str] = &[
    "Không tham gia đánh giá lại khi hết 36 tháng",
    "Không đạt yêu cầu khi đánh giá lại",
    "Chủ thể ngừng sản xuất sản phẩm",
];

/// Builds a certified product with stars, dates and stock drawn from `rng`.
#[allow(clippy::too_many_arguments)]
fn make_product(
    rng: &mut Rng,
    item: &data::Item,
    name: String,
    slug: String,
    producer: &NewProducer,
    province_name: &str,
    commune_name: &str,
    flagship: bool,
    serial: u64,
) -> NewProduct {
    let &(_, sector, unit, base_price, weight) = item;
    let roll = rng.below(100);
    let stars = match (flagship, roll) {
        (true, 0..=11) | (false, 0..=2) => 5,
        (true, 12..=51) | (false, 3..=27) => 4,
        _ => 3,
    };
    let stars = Stars::new(stars).expect("3..=5");
    let fate = rng.below(100);
    // most certificates are current; some are past their 36 months, some revoked
    let issued_on = if fate < 7 {
        date!(2021 - 03 - 01) + Duration::days(rng.below(600) as i64)
    } else {
        date!(2024 - 01 - 15) + Duration::days(rng.below(880) as i64)
    };
    let revoked = (7..11).contains(&fate).then(|| {
        (
            issued_on + Duration::days(200 + rng.below(300) as i64),
            rng.pick(REVOKE_REASONS).to_string(),
        )
    });
    let (decision, body) = if stars.get() == 5 {
        (
            format!("{}/QĐ-BNNMT", 100 + rng.below(4800)),
            "Bộ Nông nghiệp và Môi trường".to_string(),
        )
    } else {
        (
            format!("{}/QĐ-UBND", 100 + rng.below(4800)),
            format!("UBND {province_name}"),
        )
    };
    let price = (base_price * (80 + rng.below(50) as i64) / 100 / 1000).max(1) * 1000;
    let stock = if rng.below(100) < 8 {
        0
    } else {
        1 + rng.below(240) as i32
    };
    NewProduct {
        producer_slug: producer.slug.clone(),
        story: data::story(sector, &name, &producer.name, commune_name, province_name),
        slug,
        name,
        sector,
        price,
        stock,
        unit: unit.to_string(),
        weight,
        created_at: datetime!(2025-01-01 08:00 +7)
            + Duration::minutes((serial * 731 + rng.below(700)) as i64),
        stars,
        decision,
        body,
        issued_on,
        potential: stars.get() == 4 && rng.below(100) < 15,
        revoked,
    }
}

fn make_producer(
    rng: &mut Rng,
    index: usize,
    province_name: &str,
    commune: &Commune,
    theme: &str,
) -> NewProducer {
    let place = short_place(&commune.name);
    let kind = [
        ProducerType::Cooperative,
        ProducerType::Household,
        ProducerType::Firm,
        ProducerType::CoopGroup,
        ProducerType::Cooperative,
        ProducerType::Household,
    ][index % 6];
    let name = match kind {
        ProducerType::Cooperative => format!("Hợp tác xã {theme} {place}"),
        ProducerType::Firm => format!("Công ty TNHH {}", rng.pick(data::BRANDS)),
        ProducerType::Household => format!("Hộ kinh doanh {}", rng.pick(data::PEOPLE)),
        ProducerType::CoopGroup => format!("Tổ hợp tác {theme} {place}"),
    };
    let story = format!(
        "{name} có trụ sở tại {}, {province_name}. Chúng tôi liên kết với các hộ dân trong vùng để sản xuất sản phẩm đạt chuẩn OCOP, giữ nghề truyền thống và tạo việc làm cho bà con địa phương.",
        commune.name
    );
    NewProducer {
        slug: String::new(),
        name,
        kind,
        province: 0,
        commune: commune.code,
        // the street part only: pages add the commune and province from their codes
        address: format!("Thôn {}", 1 + rng.below(12)),
        phone: format!("09{:08}", rng.below(100_000_000)),
        story,
    }
}

/// Picks a distinct slug: the base, then with the place, then numbered.
fn unique_slug(taken: &mut HashSet<String>, base: &str, place: &str) -> String {
    let base = slugify(base);
    let candidates = [base.clone(), format!("{base}-{}", slugify(place))];
    for c in candidates {
        if taken.insert(c.clone()) {
            return c;
        }
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|c| taken.insert(c.clone()))
        .expect("unbounded")
}

/// The demo shop: about 4 producers per province, 2–3 products each, Vietnamese names and stories.
pub async fn demo(pool: &PgPool) -> Result<Summary, sqlx::Error> {
    let started = std::time::Instant::now();
    let admin = Admin::load(pool).await?;
    let mut rng = Rng(2025_07_01);
    let mut batch = Batch::default();
    let mut producer_slugs = HashSet::new();
    let mut product_slugs = HashSet::new();
    let mut serial = 0u64;
    for &(province, specialties) in data::SPECIALTIES {
        let province_row = admin
            .province(province)
            .expect("specialities name real provinces");
        let province_name = &province_row.name;
        let all: Vec<&Commune> = province_row
            .communes
            .iter()
            .filter_map(|c| admin.commune(*c))
            .collect();
        let rural: Vec<&Commune> = all
            .iter()
            .copied()
            .filter(|c| c.division_type != "phường")
            .collect();
        let pool_of_communes = if rural.is_empty() { all } else { rural };
        for i in 0..4 {
            let commune = pool_of_communes[rng.below(pool_of_communes.len() as u64) as usize];
            let flagship = &specialties[i % specialties.len()];
            let theme = flagship
                .0
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            let mut producer = make_producer(&mut rng, i, province_name, commune, &theme);
            producer.province = province;
            producer.slug = unique_slug(
                &mut producer_slugs,
                &producer.name,
                short_place(&commune.name),
            );
            // the province's speciality first, then one or two everyday products of the commune
            let mut items: Vec<(data::Item, String, bool)> =
                vec![(*flagship, flagship.0.to_string(), true)];
            let extra = 1 + (rng.below(10) < 6) as usize;
            for _ in 0..extra {
                let g = *rng.pick(data::GENERIC);
                let name = format!("{} {}", g.0, short_place(&commune.name));
                if items.iter().all(|(_, n, _)| n != &name) {
                    items.push((g, name, false));
                }
            }
            for (item, name, flagship) in items {
                serial += 1;
                let slug = unique_slug(&mut product_slugs, &name, short_place(&commune.name));
                let p = make_product(
                    &mut rng,
                    &item,
                    name,
                    slug,
                    &producer,
                    province_name,
                    &commune.name,
                    flagship,
                    serial,
                );
                batch.products.push(p);
            }
            batch.producers.push(producer);
        }
    }
    write(pool, batch, started).await
}

/// What makes the demo feel lived in for the new features: English names on well-known
/// specialities, and reviews by the buyers of delivered demo orders (written once: a second run
/// changes nothing). Ratings enter the products' averages in the same statement.
pub async fn demo_extras(pool: &PgPool) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        r#"update product p set name_en = v.en
           from (values ('Mật ong bạc hà Đồng Văn', 'Dong Van mint honey'),
                        ('Gốm sứ Bát Tràng', 'Bat Trang ceramics'),
                        ('Lụa Vạn Phúc', 'Van Phuc silk'),
                        ('Cà phê Arabica Sơn La', 'Son La Arabica coffee'),
                        ('Chè Shan tuyết Tà Xùa', 'Ta Xua Shan tuyet tea'),
                        ('Chè Tân Cương', 'Tan Cuong green tea'),
                        ('Trà hoa vàng Ba Chẽ', 'Ba Che golden camellia tea'),
                        ('Chả mực Hạ Long', 'Ha Long squid cakes'),
                        ('Nước mắm Cái Rồng', 'Cai Rong fish sauce'),
                        ('Nước mắm Cát Hải', 'Cat Hai fish sauce'),
                        ('Nước mắm Nam Ô', 'Nam O fish sauce'),
                        ('Vải thiều Lục Ngạn', 'Luc Ngan lychees'),
                        ('Nón lá Huế', 'Hue conical hat'),
                        ('Mè xửng Huế', 'Hue sesame candy'),
                        ('Tỏi Lý Sơn', 'Ly Son garlic'),
                        ('Yến sào Khánh Hòa', 'Khanh Hoa bird''s nest'),
                        ('Hồ tiêu Cồn Tiên', 'Con Tien black pepper'),
                        ('Homestay bản Tả Van', 'Ta Van village homestay')) as v(vi, en)
           where p.name = v.vi and p.name_en is null"#
    )
    .execute(pool)
    .await?;
    let written = sqlx::query!(
        r#"with picked as (
               select l.order_id, l.product_id, o.producer_id, pr.province_code,
                      row_number() over (order by l.order_id, l.product_id) as n
               from order_line l join shop_order o using (order_id)
               join producer pr on pr.producer_id = o.producer_id
               where o.status = 'delivered'
                 and not exists (select 1 from booking b where b.order_id = o.order_id)
                 and not exists (select 1 from review)
               order by l.order_id, l.product_id
               limit 600
           ), written as (
               insert into review (order_id, product_id, producer_id, province_code, author, rating, body, created_at)
               -- names as reviews show them (the demo's buyers are "Khách hàng N")
               select order_id, product_id, producer_id, province_code,
                      (array['Lan N.', 'Minh T.', 'Hoa P.', 'Tuấn L.', 'Mai H.', 'Dũng V.', 'Thảo Đ.',
                             'Hùng B.', 'Emma W.', 'Jin K.'])[1 + (n % 10)::int],
                      case when n % 11 = 0 then 3 when n % 4 = 0 then 4 else 5 end,
                      (array['Hàng đúng như mô tả, đóng gói cẩn thận.', 'Ngon, sẽ mua lại làm quà.',
                             'Giao nhanh, người bán nhiệt tình.', '', 'Chất lượng tốt so với giá.',
                             'Đặc sản đúng vị quê, cả nhà đều thích.'])[1 + (n % 6)::int],
                      now() - (n % 40) * interval '1 day'
               from picked
               returning product_id, rating
           )
           update product p set rating_sum = p.rating_sum + s.total, rating_count = p.rating_count + s.n
           from (select product_id, sum(rating)::int as total, count(*)::int as n from written group by product_id) s
           where p.product_id = s.product_id"#
    )
    .execute(pool)
    .await?;
    Ok(written.rows_affected())
}

/// N synthetic products from about N/1.9 producers (the national ratio), spread over all provinces.
pub async fn scale(pool: &PgPool, n: u32) -> Result<Summary, sqlx::Error> {
    let started = std::time::Instant::now();
    let admin = Admin::load(pool).await?;
    let mut rng = Rng(20_000);
    let mut batch = Batch::default();
    let producer_count = (n as usize * 10).div_ceil(19).max(1);
    for i in 0..producer_count {
        let province = &admin.provinces[i % admin.provinces.len()];
        let province_name = &province.name;
        let code = province.communes[rng.below(province.communes.len() as u64) as usize];
        let commune = admin.commune(code).expect("communes of a province exist");
        let theme = rng
            .pick(data::GENERIC)
            .0
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let mut producer = make_producer(&mut rng, i, province_name, commune, &theme);
        producer.province = province.code;
        producer.name = format!("{} ({})", producer.name, i + 1);
        producer.slug = format!("scale-producer-{}", i + 1);
        batch.producers.push(producer);
    }
    let specialties: Vec<&data::Item> = data::SPECIALTIES
        .iter()
        .flat_map(|(_, s)| s.iter())
        .chain(data::GENERIC)
        .collect();
    for j in 0..n as usize {
        let producer = &batch.producers[j % producer_count];
        let item = *specialties[rng.below(specialties.len() as u64) as usize];
        let commune_name = admin
            .commune(producer.commune)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let province_name = &admin.province(producer.province).expect("province").name;
        let name = format!("{} {} số {}", item.0, short_place(&commune_name), j + 1);
        let slug = format!("scale-{}", j + 1);
        let p = make_product(
            &mut rng,
            &item,
            name,
            slug,
            producer,
            province_name,
            &commune_name,
            j % 5 == 0,
            j as u64,
        );
        batch.products.push(p);
    }
    write(pool, batch, started).await
}

/// Writes a batch in a few statements per 5,000 rows; rows that already exist are left alone.
async fn write(
    pool: &PgPool,
    batch: Batch,
    started: std::time::Instant,
) -> Result<Summary, sqlx::Error> {
    let mut summary = Summary::default();
    let mut tx = pool.begin().await?;
    for chunk in batch.producers.chunks(5_000) {
        let col = |f: fn(&NewProducer) -> String| chunk.iter().map(f).collect::<Vec<String>>();
        let added = sqlx::query!(
            r#"
            insert into producer (slug, name, producer_type, province_code, commune_code, address, phone, story, status)
            select slug, name, kind, province, commune, address, phone, story, 'approved'
            from unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::int[], $6::text[], $7::text[], $8::text[])
                as t(slug, name, kind, province, commune, address, phone, story)
            on conflict do nothing
            "#,
            &col(|p| p.slug.clone()),
            &col(|p| p.name.clone()),
            &col(|p| p.kind.key().to_string()),
            &chunk.iter().map(|p| p.province).collect::<Vec<i16>>(),
            &chunk.iter().map(|p| p.commune).collect::<Vec<i32>>(),
            &col(|p| p.address.clone()),
            &col(|p| p.phone.clone()),
            &col(|p| p.story.clone()),
        )
        .execute(&mut *tx)
        .await?;
        summary.producers_added += added.rows_affected();
    }
    for chunk in batch.products.chunks(5_000) {
        let col = |f: fn(&NewProduct) -> String| chunk.iter().map(f).collect::<Vec<String>>();
        let added = sqlx::query!(
            r#"
            insert into product (producer_id, slug, name, sector, story, price_vnd, stock, unit, weight_grams, images, created_at)
            select pr.producer_id, t.slug, t.name, t.sector, t.story, t.price, t.stock, t.unit, t.weight,
                   array['/img/demo/' || t.slug || '.svg'], t.created_at
            from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::int[], $8::text[], $9::int[], $10::timestamptz[])
                as t(producer_slug, slug, name, sector, story, price, stock, unit, weight, created_at)
            join producer pr on pr.slug = t.producer_slug
            on conflict do nothing
            "#,
            &col(|p| p.producer_slug.clone()),
            &col(|p| p.slug.clone()),
            &col(|p| p.name.clone()),
            &col(|p| p.sector.key().to_string()),
            &col(|p| p.story.clone()),
            &chunk.iter().map(|p| p.price).collect::<Vec<i64>>(),
            &chunk.iter().map(|p| p.stock).collect::<Vec<i32>>(),
            &col(|p| p.unit.clone()),
            &chunk.iter().map(|p| p.weight).collect::<Vec<Option<i32>>>() as &[Option<i32>],
            &chunk.iter().map(|p| p.created_at).collect::<Vec<OffsetDateTime>>(),
        )
        .execute(&mut *tx)
        .await?;
        summary.products_added += added.rows_affected();
        let added = sqlx::query!(
            r#"
            insert into certificate (product_id, stars, awarding_level, awarding_body, decision_number, issued_on, expires_on,
                                     potential_five_star, status, revoked_on, revoked_reason)
            select p.product_id, t.stars, case when t.stars = 5 then 'central' else 'provincial' end, t.body, t.decision,
                   t.issued_on, t.expires_on, t.potential,
                   case when t.revoked_on is null then 'active' else 'revoked' end, t.revoked_on, t.revoked_reason
            from unnest($1::text[], $2::smallint[], $3::text[], $4::text[], $5::date[], $6::date[], $7::bool[], $8::date[], $9::text[])
                as t(slug, stars, body, decision, issued_on, expires_on, potential, revoked_on, revoked_reason)
            join product p on p.slug = t.slug
            on conflict do nothing
            "#,
            &col(|p| p.slug.clone()),
            &chunk.iter().map(|p| p.stars.get() as i16).collect::<Vec<i16>>(),
            &col(|p| p.body.clone()),
            &col(|p| p.decision.clone()),
            &chunk.iter().map(|p| p.issued_on).collect::<Vec<Date>>(),
            &chunk.iter().map(|p| default_expiry(p.issued_on)).collect::<Vec<Date>>(),
            &chunk.iter().map(|p| p.potential).collect::<Vec<bool>>(),
            &chunk.iter().map(|p| p.revoked.as_ref().map(|r| r.0)).collect::<Vec<Option<Date>>>() as &[Option<Date>],
            &chunk.iter().map(|p| p.revoked.as_ref().map(|r| r.1.clone())).collect::<Vec<Option<String>>>() as &[Option<String>],
        )
        .execute(&mut *tx)
        .await?;
        summary.certificates_added += added.rows_affected();
    }
    tx.commit().await?;
    summary.products_total = sqlx::query_scalar!("select count(*) as \"n!\" from product")
        .fetch_one(pool)
        .await?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The password of every demo account (only the `demo` command creates them).
pub const DEMO_PASSWORD: &str = "demo-ocop-2025";

/// Accounts for trying every role in the demo: an admin, national staff, Quảng Ninh's staff and
/// the owner of a Quảng Ninh producer. Idempotent; answers (role, login) to print.
pub async fn demo_accounts(
    pool: &PgPool,
) -> Result<Vec<(&'static str, &'static str)>, sqlx::Error> {
    const QUANG_NINH: i16 = 22;
    let accounts: [(&str, &str, &str, Option<i16>); 4] = [
        ("Quản trị viên", "admin@demo.ocop.vn", "admin", None),
        (
            "Cán bộ trung ương",
            "trunguong@demo.ocop.vn",
            "national_staff",
            None,
        ),
        (
            "Cán bộ tỉnh Quảng Ninh",
            "quangninh@demo.ocop.vn",
            "province_staff",
            Some(QUANG_NINH),
        ),
        (
            "Chủ cơ sở sản xuất",
            "sanxuat@demo.ocop.vn",
            "producer",
            None,
        ),
    ];
    let hash = crate::auth::identity::hash_password(DEMO_PASSWORD);
    for (name, email, role, province) in accounts {
        sqlx::query!(
            "insert into app_user (email, display_name, password_hash, role, province_code)
             values ($1, $2, $3, $4, $5) on conflict (email) do nothing",
            email,
            name,
            hash,
            role,
            province
        )
        .execute(pool)
        .await?;
    }
    sqlx::query!(
        "insert into producer_member (producer_id, user_id, role)
         select (select producer_id from producer where province_code = $1 and status = 'approved' order by producer_id limit 1),
                user_id, 'owner'
         from app_user where email = 'sanxuat@demo.ocop.vn'
         on conflict do nothing",
        QUANG_NINH
    )
    .execute(pool)
    .await?;
    // where the demo cooperative is paid, so staff can try a payout run
    sqlx::query!(
        "insert into payout_account (producer_id, bank_bin, account_no, holder_name, payouts_from)
         select m.producer_id, '970405', '8888000012345', 'HOP TAC XA DEMO', now() - interval '1 day'
         from producer_member m join app_user u using (user_id) where u.email = 'sanxuat@demo.ocop.vn'
         on conflict do nothing"
    )
    .execute(pool)
    .await?;
    // Quảng Ninh's permanent OCOP sales point, with the demo producer's stall ready to sell
    sqlx::query!(
        "insert into sale_event (kind, name, province_code, commune_code, place, starts_on, created_by)
         select 'sales_point', 'Điểm bán sản phẩm OCOP Hạ Long', $1,
                (select commune_code from commune where province_code = $1 order by commune_code limit 1),
                'Chợ Hạ Long 1, tầng 1', current_date - 30, user_id
         from app_user where email = 'quangninh@demo.ocop.vn'
           and not exists (select 1 from sale_event)",
        QUANG_NINH
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "insert into event_producer (event_id, producer_id, invited_by, accepted_at)
         select (select min(event_id) from sale_event), m.producer_id,
                (select user_id from app_user where email = 'quangninh@demo.ocop.vn'), now()
         from producer_member m join app_user u using (user_id) where u.email = 'sanxuat@demo.ocop.vn'
           and exists (select 1 from sale_event)
         on conflict do nothing"
    )
    .execute(pool)
    .await?;
    // the tourism products are booked by the slot: every day at 08:00 and 14:00, 12 guests each
    // (slots are made when their page is first opened)
    sqlx::query!(
        "insert into experience (product_id, duration_minutes, meeting_point, languages, capacity, cutoff_hours,
             free_cancel_hours, weekdays, start_minutes)
         select p.product_id, 180, left(coalesce(nullif(btrim(pr.address), ''), 'Nhà văn hoá xã') || ' (điểm hẹn)', 300),
                '{vi,en}', 12, 12, 48, '{1,2,3,4,5,6,7}', '{480,840}'
         from product p join producer pr using (producer_id)
         where p.sector = 'tourism'
         on conflict (product_id) do nothing"
    )
    .execute(pool)
    .await?;
    // a welcome voucher the marketplace funds, and Quảng Ninh's programme taking 5% off its
    // goods by itself (both stop on their own)
    sqlx::query!(
        "insert into promotion (code, name, kind, value, min_order, starts_at, ends_at, total_limit,
             per_customer_limit, stackable, funder, created_by)
         select 'CHAOMUNG', 'Chào mừng bạn đến chợ OCOP', 'amount', 20000, 150000, now() - interval '1 day',
                now() + interval '60 days', 500, 1, true, 'marketplace', user_id
         from app_user where email = 'trunguong@demo.ocop.vn'
         on conflict (code) do nothing"
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "insert into promotion (name, kind, value, max_discount, starts_at, ends_at, scope_province, stackable,
             funder, funder_province, created_by)
         select 'Tuần hàng OCOP Quảng Ninh', 'percent', 5, 30000, now() - interval '1 day', now() + interval '60 days',
                $1, true, 'province', $1, user_id
         from app_user where email = 'quangninh@demo.ocop.vn'
           and not exists (select 1 from promotion where funder = 'province')",
        QUANG_NINH
    )
    .execute(pool)
    .await?;
    // the season's banner, as national staff would plan it: gifts for the coming Tết
    sqlx::query!(
        "insert into banner (title, subtitle, link, cta, theme, motif, starts_on, ends_on, created_by)
         select 'Quà Tết OCOP từ 34 tỉnh, thành',
                'Trà, mật ong, bánh mứt 4 và 5 sao, mua thẳng từ người làm ra, giao tận nhà.',
                '/products?stars=5', 'Chọn quà Tết', 'tet', 'cake',
                current_date, current_date + 60, user_id
         from app_user where email = 'trunguong@demo.ocop.vn'
           and not exists (select 1 from banner)"
    )
    .execute(pool)
    .await?;
    Ok(accounts
        .iter()
        .map(|(name, email, _, _)| (*name, *email))
        .collect())
}
