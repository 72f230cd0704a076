//! `/producer/...`, one file per part of the portal: home, profile (registration), products
//! (pictures, stock), certificates, members (invitations). This file holds the router and what
//! the parts share.

mod certificates;
mod home;
mod members;
mod money;
mod products;
mod profile;

use certificates::*;
use home::*;
use members::*;
use money::*;
use products::*;
use profile::*;

use super::{CertificateDraft, Errors, MAX_IMAGES, ProducerDraft, ProductDraft};
use crate::auth::{CurrentUser, ProducerMember, Session};
use crate::domain::Vnd;
use crate::error::AppError;
use crate::forms::{CheckedForm, Id, UPLOAD_BODY_LIMIT, UploadForm, field_map};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/producer", get(home))
        .route("/producer/register", get(register_page).post(register))
        .route("/producer/profile", get(profile_page).post(profile))
        .route(
            "/producer/products/new",
            get(new_product_page).post(create_product),
        )
        .route(
            "/producer/products/{id}",
            get(product_page).post(update_product),
        )
        .route("/producer/products/{id}/visibility", post(visibility))
        .route("/producer/products/{id}/images/remove", post(remove_image))
        .route("/producer/products/{id}/images/cover", post(cover_image))
        .route("/producer/products/{id}/stock", post(adjust_stock))
        .route(
            "/producer/products/{id}/certificates",
            post(submit_certificate),
        )
        .route("/producer/certificates/{id}/scan", get(scan))
        .route("/producer/money", get(money))
        .route("/producer/money.csv", get(money_csv))
        .route("/producer/money/tax", get(tax_certificate))
        .route(
            "/producer/money/account",
            get(account_form).post(save_account),
        )
        .route("/producer/members", get(members_page))
        .route("/producer/members/invite", post(invite))
        .route("/producer/members/{id}/remove", post(remove_member))
        .route("/invite/{token}", get(invite_page).post(accept_invite))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
}

/// Messages after a redirect, by key: nothing a visitor types is echoed.
#[derive(Deserialize)]
pub(super) struct Notice {
    ok: Option<String>,
}

pub(super) fn notice_text(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "registered" => {
            "Đã gửi đăng ký. Cán bộ OCOP của tỉnh sẽ xem xét và phê duyệt; bạn có thể thêm sản phẩm ngay bây giờ."
        }
        "profile" => "Đã lưu thông tin chủ thể.",
        "created" => "Đã tạo sản phẩm. Hãy khai báo giấy chứng nhận OCOP để sản phẩm được bày bán.",
        "saved" => "Đã lưu thay đổi.",
        "recheck" => {
            "Đã lưu. Vì tên hoặc nhóm sản phẩm đã đổi, giấy chứng nhận OCOP được gửi lại cho cán bộ tỉnh xác nhận; sản phẩm tạm ngừng bày bán đến khi được xác nhận."
        }
        "hidden" => "Sản phẩm đã được ẩn khỏi sàn.",
        "shown" => "Sản phẩm đã hiện lại trên sàn (nếu đủ điều kiện).",
        "image_removed" => "Đã xoá ảnh.",
        "image_cover" => {
            "Đã đặt làm ảnh bìa: ảnh này hiện đầu tiên trên trang sản phẩm và trong danh sách."
        }
        "stock" => "Đã cập nhật tồn kho.",
        "certificate" => "Đã gửi giấy chứng nhận. Cán bộ của tỉnh sẽ đối chiếu và xác nhận.",
        "member_removed" => "Đã xoá thành viên.",
        "joined" => "Bạn đã tham gia chủ thể OCOP.",
        _ => return None,
    })
}

pub(super) fn show(status: StatusCode, template: &str, ctx: &impl Serialize) -> Response {
    (status, render_page(template, ctx)).into_response()
}

pub(super) fn to(path: String) -> Response {
    Redirect::to(&path).into_response()
}

pub(super) fn provinces_and_communes(state: &AppState, province: Option<i16>) -> Value {
    state.catalog.snapshot().admin.picker(province)
}

/// One choice of a closed set, as a form's options show it.
#[derive(Serialize)]
pub(super) struct Choice {
    key: &'static str,
    label: &'static str,
}

pub(super) fn producer_types() -> Vec<Choice> {
    crate::domain::ProducerType::ALL
        .iter()
        .map(|t| Choice {
            key: t.key(),
            label: t.label(),
        })
        .collect()
}

pub(super) fn sectors() -> Vec<Choice> {
    crate::domain::Sector::ALL
        .iter()
        .map(|t| Choice {
            key: t.key(),
            label: t.label(),
        })
        .collect()
}
