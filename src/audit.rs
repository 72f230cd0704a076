//! The audit log. Row triggers write it (migrations/0007_portal.sql) from what the transaction
//! declares with `begin`: who acts, as what action, and why. A change made through `begin` and
//! its audit entry commit or roll back together, and no handler can change a row unlogged.

use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;

/// A transaction whose changes are logged as `action` by `actor`, with an optional reason.
pub async fn begin<'a>(
    pool: &'a PgPool,
    actor: i64,
    action: &str,
    reason: Option<&str>,
) -> Result<Transaction<'a, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        r#"select set_config('ocop.actor_id', $1, true) as "a!", set_config('ocop.action', $2, true) as "b!",
                set_config('ocop.reason', $3, true) as "c!""#,
        actor.to_string(),
        action,
        reason.unwrap_or("")
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(tx)
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub audit_id: i64,
    pub at: OffsetDateTime,
    pub actor_name: String,
    pub actor_role: String,
    pub action: String,
    /// the action as people say it ("Điều chỉnh tồn kho", not "product.stock")
    pub action_label: String,
    pub reason: Option<String>,
    pub entity: String,
    pub entity_label: &'static str,
    pub entity_id: i64,
    pub operation: String,
    pub province_name: Option<String>,
    /// only the fields that changed: (field as people say it, before, after)
    pub changes: Vec<(String, String, String)>,
}

/// What an action code means, in Vietnamese; a code nobody named yet shows as itself.
pub fn action_label(action: &str) -> String {
    let label = match action {
        "producer.register" => "Đăng ký chủ thể",
        "producer.update" => "Sửa thông tin chủ thể",
        "producer.approve" => "Duyệt chủ thể",
        "producer.reject" => "Từ chối chủ thể",
        "product.create" => "Thêm sản phẩm",
        "product.update" => "Sửa sản phẩm",
        "product.stock" => "Điều chỉnh tồn kho",
        "product.hide" => "Ẩn sản phẩm",
        "review.hide" => "Ẩn đánh giá",
        "review.unhide" => "Hiện lại đánh giá",
        "review.reply" => "Trả lời đánh giá",
        "product.unhide" => "Hiện lại sản phẩm",
        "product.image_remove" => "Xoá ảnh sản phẩm",
        "product.image_cover" => "Đặt ảnh bìa",
        "certificate.submit" => "Gửi chứng nhận OCOP",
        "certificate.verify" => "Xác nhận chứng nhận OCOP",
        "certificate.reject" => "Từ chối chứng nhận OCOP",
        "certificate.revoke" => "Thu hồi chứng nhận OCOP",
        "member.join" => "Thành viên tham gia",
        "member.remove" => "Gỡ thành viên",
        "user.appoint" => "Bổ nhiệm cán bộ",
        "user.disable" => "Khoá tài khoản",
        "payment.resolve" => "Xử lý khoản tiền cần xem xét",
        "order.confirm" => "Xác nhận đơn",
        "order.ship" => "Gửi hàng",
        "order.deliver" => "Đã giao hàng",
        "order.cancel" => "Huỷ đơn",
        "order.refund" => "Ghi nhận hoàn tiền",
        "banner.create" => "Thêm banner trang chủ",
        "payout.account" => "Đổi tài khoản nhận tiền",
        "producer.identity" => "Khai báo mã số thuế / CCCD",
        "producer.identity_check" => "Xác nhận mã số thuế / CCCD",
        "payout.run" => "Lập đợt chi trả",
        "payout.confirm" => "Xác nhận đã chuyển tiền",
        "payout.fail" => "Ghi nhận chuyển tiền không thành công",
        "ledger.adjust" => "Điều chỉnh số dư chủ thể",
        "commission.rule" => "Đặt mức hoa hồng",
        "settlement.settings" => "Đổi phí kênh thanh toán, cách đối soát",
        "banner.delete" => "Gỡ banner trang chủ",
        other => return other.to_string(),
    };
    label.to_string()
}

fn entity_label(entity: &str) -> &'static str {
    match entity {
        "producer" => "Chủ thể",
        "product" => "Sản phẩm",
        "certificate" => "Chứng nhận",
        "producer_member" => "Thành viên",
        "app_user" => "Tài khoản",
        "review" => "Đánh giá",
        "shop_order" => "Đơn",
        "payment_event" => "Khoản tiền",
        "banner" => "Banner",
        "payout_account" => "Tài khoản nhận tiền",
        "payout_run" => "Đợt chi trả",
        "payout_line" => "Lệnh chi trả",
        "commission_rule" => "Mức hoa hồng",
        "journal_entry" => "Bút toán",
        "channel_fee" => "Phí kênh thanh toán",
        "settlement_setting" => "Cách đối soát",
        _ => "Bản ghi",
    }
}

/// A column as people say it; a column nobody named yet shows as itself.
pub fn field_label(field: &str) -> String {
    let label = match field {
        "name" => "Tên",
        "slug" => "Đường dẫn",
        "status" => "Trạng thái",
        "stock" => "Tồn kho",
        "price_vnd" => "Giá (đồng)",
        "unit" => "Đơn vị tính",
        "sector" => "Ngành hàng",
        "story" => "Câu chuyện",
        "hidden" => "Ẩn",
        "images" => "Ảnh",
        "weight_grams" => "Khối lượng (g)",
        "stars" => "Số sao",
        "verification" => "Xác minh",
        "rejection_reason" => "Lý do từ chối",
        "revoked_on" => "Thu hồi ngày",
        "revoked_reason" => "Lý do thu hồi",
        "expires_on" => "Hết hạn",
        "issued_on" => "Cấp ngày",
        "decision_number" => "Số quyết định",
        "role" => "Vai trò",
        "province_code" => "Tỉnh",
        "commune_code" => "Xã, phường",
        "disabled_at" => "Khoá lúc",
        "display_name" => "Tên hiển thị",
        "email" => "Email",
        "phone" => "Điện thoại",
        "address" => "Địa chỉ",
        "cancel_reason" => "Lý do huỷ",
        "cancelled_by" => "Người huỷ",
        "carrier" => "Đơn vị vận chuyển",
        "tracking_number" => "Mã vận đơn",
        "resolution" => "Cách xử lý",
        "resolution_note" => "Ghi chú xử lý",
        "resolved_at" => "Xử lý lúc",
        "resolved_by" => "Người xử lý",
        "reviewed_at" => "Duyệt lúc",
        "reviewed_by" => "Người duyệt",
        "title" => "Tiêu đề",
        "subtitle" => "Lời giới thiệu",
        "link" => "Trang mở khi bấm",
        "cta" => "Chữ trên nút",
        "theme" => "Màu",
        "motif" => "Hình vẽ",
        "starts_on" => "Từ ngày",
        "ends_on" => "Đến ngày",
        other => return other.to_string(),
    };
    label.to_string()
}

/// The newest entries older than `before` (all when None), newest first.
pub async fn recent(
    pool: &PgPool,
    province: Option<i16>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        select a.audit_id, a.at, a.actor_name, a.actor_role, a.action, a.reason, a.entity, a.entity_id,
               a.operation, pv.name as "province_name?", a.before::text as before_json, a.after::text as after_json
        from audit_log a left join province pv using (province_code)
        where ($1::smallint is null or a.province_code = $1)
          and ($2::bigint is null or a.audit_id < $2)
        order by a.audit_id desc
        limit $3
        "#,
        province,
        before,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Entry {
            changes: changes(r.before_json.as_deref(), r.after_json.as_deref())
                .into_iter()
                .map(|(field, before, after)| (field_label(&field), before, after))
                .collect(),
            audit_id: r.audit_id,
            at: r.at,
            actor_name: r.actor_name,
            actor_role: crate::auth::role_label(&r.actor_role).to_string(),
            action_label: action_label(&r.action),
            action: r.action,
            reason: r.reason,
            entity_label: entity_label(&r.entity),
            entity: r.entity,
            entity_id: r.entity_id,
            operation: r.operation,
            province_name: r.province_name,
        })
        .collect())
}

/// The fields whose values differ between two row images.
pub fn changes(before: Option<&str>, after: Option<&str>) -> Vec<(String, String, String)> {
    let parse = |s: Option<&str>| -> serde_json::Map<String, serde_json::Value> {
        s.and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    };
    let (before, after) = (parse(before), parse(after));
    let show = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| (k.clone(), show(before.get(k)), show(after.get(k))))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_changed_fields_are_shown() {
        let c = super::changes(
            Some(r#"{"stock": 5, "name": "Mật ong", "hidden": false}"#),
            Some(r#"{"stock": 12, "name": "Mật ong", "hidden": false}"#),
        );
        assert_eq!(c, vec![("stock".into(), "5".into(), "12".into())]);
        let created = super::changes(None, Some(r#"{"name": "Trà"}"#));
        assert_eq!(created, vec![("name".into(), "".into(), "Trà".into())]);
    }
}
