//! Uploaded files. Product pictures are checked by their content (JPEG, PNG or WebP, whatever the
//! name says), decoded under strict limits (a small file that unpacks into a gigantic picture is
//! refused before it is unpacked), turned upright, and re-encoded as JPEG in two sizes: nothing a
//! person uploads is ever served as they sent it. Certificate scans (PDF or picture) live outside
//! the public folder and are handed out only by the routes that check who asks.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// The largest file a person may upload.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Pictures larger than this many pixels on a side, or in all, are refused unread.
const MAX_SIDE: u32 = 10_000;
const MAX_PIXELS: u64 = 40_000_000;
/// Sizes we serve: the product page picture and the card thumbnail (4:3).
const LARGE_SIDE: u32 = 1200;
const THUMB: (u32, u32) = (400, 300);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UploadError {
    #[error("Tệp quá lớn: tối đa 5 MB mỗi tệp.")]
    TooBig,
    #[error("Tệp trống. Vui lòng chọn lại tệp.")]
    Empty,
    #[error(
        "Tệp này không phải ảnh JPEG, PNG hoặc WebP (đã kiểm tra nội dung tệp, không chỉ tên tệp)."
    )]
    NotAnImage,
    #[error("Tệp này không phải PDF hoặc ảnh JPEG, PNG, WebP.")]
    NotAScan,
    #[error(
        "Ảnh có kích thước quá lớn (tối đa 10.000 điểm ảnh mỗi chiều, 40 triệu điểm ảnh). Vui lòng chụp hoặc lưu lại ảnh nhỏ hơn."
    )]
    TooManyPixels,
    #[error("Ảnh bị hỏng hoặc không đọc được. Vui lòng chọn ảnh khác.")]
    Corrupt,
    #[error("Không lưu được tệp. Vui lòng thử lại sau.")]
    Storage,
}

/// Where files go: `public/` is served under /media, `private/` never is.
#[derive(Clone, Debug)]
pub struct MediaStore {
    root: PathBuf,
}

/// A random name: uploaded names are never used for anything.
fn fresh_name() -> String {
    crate::crypto::random_token()[..32].to_string()
}

impl MediaStore {
    pub fn new(root: impl Into<PathBuf>) -> MediaStore {
        MediaStore { root: root.into() }
    }

    pub fn public_dir(&self) -> PathBuf {
        self.root.join("public")
    }

    fn private_dir(&self) -> PathBuf {
        self.root.join("private")
    }

    /// Checks, re-encodes and stores a product picture; answers the URL of the large version and
    /// the bytes both versions take on disk.
    pub async fn store_product_image(&self, bytes: Vec<u8>) -> Result<(String, u64), UploadError> {
        let (large, thumb) = tokio::task::spawn_blocking(move || product_image_versions(&bytes))
            .await
            .map_err(|_| UploadError::Corrupt)??;
        let name = fresh_name();
        let dir = self.public_dir().join("p");
        write(&dir, &format!("{name}.jpg"), &large).await?;
        write(&dir, &format!("{name}-thumb.jpg"), &thumb).await?;
        Ok((
            format!("/media/p/{name}.jpg"),
            (large.len() + thumb.len()) as u64,
        ))
    }

    /// Stores a certificate scan (a PDF as sent, a picture re-encoded); answers its file name and
    /// size.
    pub async fn store_scan(&self, bytes: Vec<u8>) -> Result<(String, u64), UploadError> {
        let (ext, content) = if bytes.starts_with(b"%PDF-") {
            check_size(&bytes)?;
            ("pdf", bytes)
        } else {
            let large = tokio::task::spawn_blocking(move || scan_image(&bytes))
                .await
                .map_err(|_| UploadError::Corrupt)?
                .map_err(|e| match e {
                    UploadError::NotAnImage => UploadError::NotAScan,
                    other => other,
                })?;
            ("jpg", large)
        };
        let name = format!("{}.{ext}", fresh_name());
        write(&self.private_dir().join("scans"), &name, &content).await?;
        Ok((name, content.len() as u64))
    }

    /// A stored scan and its content type; `None` for a name we did not make.
    pub async fn read_scan(&self, file: &str) -> Option<(Vec<u8>, &'static str)> {
        let (stem, ext) = file.split_once('.')?;
        let valid = stem.len() == 32
            && stem
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let mime = match ext {
            "pdf" => "application/pdf",
            "jpg" => "image/jpeg",
            _ => return None,
        };
        if !valid {
            return None;
        }
        let bytes = tokio::fs::read(self.private_dir().join("scans").join(file))
            .await
            .ok()?;
        Some((bytes, mime))
    }
}

async fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), UploadError> {
    let fail = |e: std::io::Error| {
        tracing::error!(error = %e, dir = %dir.display(), "cannot store an upload");
        UploadError::Storage
    };
    tokio::fs::create_dir_all(dir).await.map_err(fail)?;
    // write then rename: a reader never sees half a file
    let tmp = dir.join(format!(".{name}.part"));
    tokio::fs::write(&tmp, bytes).await.map_err(fail)?;
    tokio::fs::rename(&tmp, dir.join(name)).await.map_err(fail)
}

/// Room and pace for one producer's uploads. A producer still waiting for approval gets what its
/// approval needs (a few pictures and certificate scans), an approved one a working catalog's.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub bytes: i64,
    pub files: i64,
    pub per_hour: u32,
}

pub const APPROVED_QUOTA: Quota = Quota {
    bytes: 500 * 1024 * 1024,
    files: 2_000,
    per_hour: 120,
};
pub const PENDING_QUOTA: Quota = Quota {
    bytes: 25 * 1024 * 1024,
    files: 12,
    per_hour: 12,
};

/// What a producer's stored files take now: (bytes, files).
pub async fn usage(pool: &sqlx::PgPool, producer_id: i64) -> Result<(i64, i64), sqlx::Error> {
    let r = sqlx::query!(
        r#"select coalesce(sum(bytes), 0)::bigint as "bytes!", count(*) as "files!" from media_file where producer_id = $1"#,
        producer_id
    )
    .fetch_one(pool)
    .await?;
    Ok((r.bytes, r.files))
}

/// Records a stored file as the producer's (for its quota, and so the sweeper can find it).
pub async fn record(
    pool: &sqlx::PgPool,
    producer_id: i64,
    name: &str,
    kind: &str,
    bytes: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into media_file (name, producer_id, kind, bytes) values ($1, $2, $3, $4) on conflict do nothing",
        name,
        producer_id,
        kind,
        bytes as i64
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes stored files older than `grace` that nothing points at any more (a replaced scan, a
/// removed picture, an upload whose form failed after the file was written). Safe on every
/// instance at once: rows are claimed with SKIP LOCKED, and a file already gone is no error.
/// Answers how many files went.
pub async fn sweep_orphans(
    pool: &sqlx::PgPool,
    store: &MediaStore,
    grace: std::time::Duration,
) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let orphans = sqlx::query!(
        r#"select name, kind from media_file f
           where created_at < now() - make_interval(secs => $1)
             and not exists (select 1 from product p where p.images @> array[f.name])
             and not exists (select 1 from certificate c where c.scan_file = f.name)
           order by created_at limit 500
           for update skip locked"#,
        grace.as_secs_f64()
    )
    .fetch_all(&mut *tx)
    .await?;
    for o in &orphans {
        let paths = match o.kind.as_str() {
            // the URL and its thumbnail's, under the public folder served at /media
            "picture" => [o.name.clone(), thumbnail_url(&o.name)]
                .iter()
                .map(|url| store.public_dir().join(url.trim_start_matches("/media/")))
                .collect(),
            _ => vec![store.private_dir().join("scans").join(&o.name)],
        };
        for path in paths {
            if let Err(e) = tokio::fs::remove_file(&path).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, file = %path.display(), "orphaned upload not removed");
                }
            }
        }
    }
    let names: Vec<String> = orphans.iter().map(|o| o.name.clone()).collect();
    sqlx::query!("delete from media_file where name = any($1)", &names)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(names.len())
}

/// The URL of the card-sized version of a picture we stored; other pictures (the demo's SVGs)
/// are their own thumbnail.
/// A certificate's scanned decision, for the people allowed to see it (they were checked by the
/// caller): never cached, shown in the browser.
pub async fn scan_answer(
    media: &MediaStore,
    file: &str,
) -> Result<axum::response::Response, crate::error::AppError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let (bytes, mime) = media
        .read_scan(file)
        .await
        .ok_or(crate::error::AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, no-store"),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        bytes,
    )
        .into_response())
}

pub fn thumbnail_url(url: &str) -> String {
    match url
        .strip_prefix("/media/p/")
        .and_then(|n| n.strip_suffix(".jpg"))
    {
        Some(name) => format!("/media/p/{name}-thumb.jpg"),
        None => url.to_string(),
    }
}

fn check_size(bytes: &[u8]) -> Result<(), UploadError> {
    match bytes.len() {
        0 => Err(UploadError::Empty),
        n if n > MAX_UPLOAD_BYTES => Err(UploadError::TooBig),
        _ => Ok(()),
    }
}

/// Decodes an upload that claims nothing: the format is read from the bytes, and only JPEG, PNG
/// and WebP are opened. Dimensions are checked from the header before any pixel is unpacked.
pub fn decode_upload(bytes: &[u8]) -> Result<DynamicImage, UploadError> {
    check_size(bytes)?;
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| UploadError::Corrupt)?;
    if !matches!(
        reader.format(),
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)
    ) {
        return Err(UploadError::NotAnImage);
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(UploadError::Corrupt);
    }
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(UploadError::TooManyPixels);
    }
    // phones store pictures sideways and say so in EXIF
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img)
}

fn classify(e: image::ImageError) -> UploadError {
    match e {
        image::ImageError::Limits(_) => UploadError::TooManyPixels,
        image::ImageError::Unsupported(_) => UploadError::NotAnImage,
        _ => UploadError::Corrupt,
    }
}

/// Transparent parts become white rather than black in a JPEG.
fn flatten(img: &DynamicImage) -> image::RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |c: u8| ((c as u16 * a as u16 + 255 * (255 - a as u16)) / 255) as u8;
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

fn jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, UploadError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&flatten(img))
        .map_err(|_| UploadError::Corrupt)?;
    Ok(out)
}

fn product_image_versions(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), UploadError> {
    let img = decode_upload(bytes)?;
    let large = if img.width() > LARGE_SIDE || img.height() > LARGE_SIDE {
        img.thumbnail(LARGE_SIDE, LARGE_SIDE)
    } else {
        img.clone()
    };
    let thumb = img.resize_to_fill(THUMB.0, THUMB.1, image::imageops::FilterType::Triangle);
    Ok((jpeg(&large, 85)?, jpeg(&thumb, 80)?))
}

fn scan_image(bytes: &[u8]) -> Result<Vec<u8>, UploadError> {
    let img = decode_upload(bytes)?;
    // a scan must stay readable: keep up to 2400 px
    let img = if img.width() > 2400 || img.height() > 2400 {
        img.thumbnail(2400, 2400)
    } else {
        img
    };
    jpeg(&img, 88)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::new_rgba8(w, h);
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn pictures_are_recognised_by_content_and_re_encoded() {
        let (large, thumb) = product_image_versions(&png(1600, 900)).unwrap();
        let large = image::load_from_memory(&large).unwrap();
        assert_eq!((large.width(), large.height()), (1200, 675));
        let thumb = image::load_from_memory(&thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (400, 300));
    }

    #[test]
    fn what_is_not_a_picture_is_refused_whatever_its_name() {
        assert_eq!(
            decode_upload(b"<?php echo 1; ?>").unwrap_err(),
            UploadError::NotAnImage
        );
        assert_eq!(
            decode_upload(b"GIF89a\x01\x00\x01\x00").unwrap_err(),
            UploadError::NotAnImage
        );
        assert_eq!(decode_upload(b"").unwrap_err(), UploadError::Empty);
        let mut truncated = png(50, 50);
        truncated.truncate(60);
        assert_eq!(decode_upload(&truncated).unwrap_err(), UploadError::Corrupt);
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_is_unpacked() {
        // 20000 × 20000 pixels of nothing: a few kilobytes on disk, 1.6 GB unpacked
        let bomb = png_header_only(20_000, 20_000);
        assert!(bomb.len() < 100_000);
        assert_eq!(
            decode_upload(&bomb).unwrap_err(),
            UploadError::TooManyPixels
        );
    }

    /// A PNG that declares huge dimensions; its pixel data is never reached.
    fn png_header_only(w: u32, h: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        // write a real 1-row picture, then patch the header's dimensions and CRC
        image::ImageEncoder::write_image(
            encoder,
            &vec![0u8; 16 * 4],
            16,
            1,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
        let mut bytes = out.into_inner();
        bytes[16..20].copy_from_slice(&w.to_be_bytes());
        bytes[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn only_our_own_thumbnails_are_derived() {
        assert_eq!(thumbnail_url("/media/p/abc.jpg"), "/media/p/abc-thumb.jpg");
        assert_eq!(thumbnail_url("/img/demo/x.svg"), "/img/demo/x.svg");
    }
}
