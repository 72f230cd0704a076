//! The shopper's address book: add, edit, default, remove; checkout fills in the default and a
//! saved address with one press, without JavaScript; nobody reaches another person's addresses.

use crate::helpers::*;
use crate::orders::{add, checkout_with};
use axum::http::StatusCode;

async fn first_commune(app: &TestApp, province: i16) -> String {
    app.state
        .catalog
        .snapshot()
        .admin
        .province(province)
        .unwrap()
        .communes
        .iter()
        .min()
        .unwrap()
        .to_string()
}

/// The ids of the address cards on the book's page, in the order shown.
fn shown_ids(html: &str) -> Vec<i64> {
    html.match_indices("href=\"/account/addresses/")
        .filter_map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}

#[tokio::test]
async fn a_shopper_keeps_an_address_book_and_checkout_fills_in_the_default() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (mut v, _) = person(&app, "khach", "shopper", None).await;
    let ha_noi = first_commune(&app, 1).await;
    let quang_ninh = first_commune(&app, 22).await;

    let book = v.get("/account/addresses").await;
    assert_eq!(book.status, StatusCode::OK);
    assert!(book.body.contains("Chưa có địa chỉ nào"), "{}", book.body);
    let token = csrf(&book);

    // a mistake comes back beside its field with what was typed kept
    let wrong = v
        .post(
            "/account/addresses",
            &[
                ("csrf", &token),
                ("buyer_name", "Lê Thị Mua"),
                ("phone", "12"),
                ("province", "1"),
                ("commune", &ha_noi),
                ("street", "5 Lý Thái Tổ"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("id=\"e-phone\""), "{}", wrong.body);
    assert!(wrong.body.contains("value=\"5 Lý Thái Tổ\""));
    let none: i64 = sqlx::query_scalar("select count(*) from saved_address")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(none, 0, "a mistake saves nothing");

    // "show communes" without JavaScript: the province's communes are listed, nothing is saved
    let communes = v
        .post(
            "/account/addresses",
            &[("csrf", &token), ("province", "22"), ("step", "province")],
        )
        .await;
    assert_eq!(communes.status, StatusCode::OK);
    assert!(communes.body.contains(&format!("value=\"{quang_ninh}\"")));

    for (name, province, commune, street) in [
        ("Lê Thị Mua", "1", &ha_noi, "5 Lý Thái Tổ"),
        ("Bố mẹ", "22", &quang_ninh, "Thôn 3"),
    ] {
        let saved = v
            .post(
                "/account/addresses",
                &[
                    ("csrf", &token),
                    ("buyer_name", name),
                    ("phone", "0912 000 111"),
                    ("province", province),
                    ("commune", commune),
                    ("street", street),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    }
    let book = v.get("/account/addresses?done=added").await;
    assert!(book.body.contains("Đã thêm địa chỉ."));
    let ids = shown_ids(&book.body);
    assert_eq!(ids.len(), 2, "{}", book.body);
    // the first address became the default and is listed first
    let (home, parents) = (ids[0], ids[1]);
    assert!(book.body.find("Mặc định").unwrap() < book.body.find("Bố mẹ").unwrap());

    // the same address again is refused, beside the street
    let twice = v
        .post(
            "/account/addresses",
            &[
                ("csrf", &token),
                ("buyer_name", "Ai đó"),
                ("phone", "0912 000 111"),
                ("province", "22"),
                ("commune", &quang_ninh),
                ("street", "Thôn 3"),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("đã có trong sổ"));

    // edit: the form shows the address; the change is kept
    let edit = v.get(&format!("/account/addresses/{parents}")).await;
    assert!(edit.body.contains("value=\"Thôn 3\""), "{}", edit.body);
    let edited = v
        .post(
            &format!("/account/addresses/{parents}"),
            &[
                ("csrf", &token),
                ("buyer_name", "Bố mẹ"),
                ("phone", "0912 000 111"),
                ("province", "22"),
                ("commune", &quang_ninh),
                ("street", "Thôn 3, cạnh nhà văn hoá"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);

    // make the parents' address the default: checkout fills it in
    let made = v
        .post(
            &format!("/account/addresses/{parents}/default"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    add(&mut v, "mien-dong", 1).await;
    let page = v.get("/checkout").await;
    assert!(
        page.body.contains("value=\"Thôn 3, cạnh nhà văn hoá\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("<option value=\"{quang_ninh}\" selected"))
    );
    // choosing the other saved address fills it in, no script needed
    let chosen = v
        .post(
            "/checkout",
            &[
                ("csrf", &csrf(&page)),
                ("token", &"a".repeat(64)),
                ("use_address", &home.to_string()),
                ("payment_method", "cod"),
                ("note", "Gọi trước khi giao"),
            ],
        )
        .await;
    assert_eq!(chosen.status, StatusCode::OK);
    assert!(chosen.body.contains("value=\"5 Lý Thái Tổ\""));
    assert!(
        chosen
            .body
            .contains(&format!("<option value=\"{ha_noi}\" selected"))
    );
    assert!(
        chosen.body.contains("Gọi trước khi giao"),
        "the note typed is kept"
    );
    assert!(
        chosen.body.contains("Dự kiến nhận hàng"),
        "a known destination dates the parcel"
    );

    // an order to a new address joins the book (not as default: there is one)
    let page = v.get("/checkout").await;
    let placed = checkout_with(&mut v, &page, "cod").await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let defaults: Vec<(String, bool)> =
        sqlx::query_as("select street, is_default from saved_address order by saved_address_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        defaults.len(),
        2,
        "the order went to a saved address: {defaults:?}"
    );

    // another person finds none of it
    let (mut other, _) = person(&app, "nguoi-khac", "shopper", None).await;
    assert_eq!(
        other
            .get(&format!("/account/addresses/{home}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let theirs = other.get("/account/addresses").await;
    let t = csrf(&theirs);
    for uri in [
        format!("/account/addresses/{home}/delete"),
        format!("/account/addresses/{home}/default"),
    ] {
        assert_eq!(
            other.post(&uri, &[("csrf", &t)]).await.status,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }

    // removing the default hands it to the address left
    let removed = v
        .post(
            &format!("/account/addresses/{parents}/delete"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let left: Vec<(i64, bool)> =
        sqlx::query_as("select saved_address_id, is_default from saved_address")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, vec![(home, true)]);
}
