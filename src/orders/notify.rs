//! What an order tells people by mail: the shopper once per order group and event, each
//! producer its own part, and everyone a change of state.

use super::Status;
use crate::i18n::Lang;
use crate::state::AppState;
use fluent_bundle::FluentArgs;

/// A mail sentence in `lang`, with its values.
fn say(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let mut a = FluentArgs::new();
    for (k, v) in args {
        a.set(*k, v.clone());
    }
    lang.format(key, Some(&a))
}

fn money(v: i64) -> String {
    crate::domain::Vnd::format(v)
}

fn status_in(lang: Lang, to: Status) -> String {
    crate::i18n::label_in(lang, "status", to.key(), to.label())
}

/// Who hears of an order part: the shopper's address (given at checkout, or their account's),
/// the producer owner's, and what the mails name.
struct Addresses {
    shopper: Option<String>,
    owner: Option<String>,
    code: String,
    producer: String,
    group_id: i64,
    /// the language the shopper ordered in: their mails speak it
    lang: Lang,
}

async fn addresses(state: &AppState, order_id: i64) -> Option<Addresses> {
    sqlx::query!(
        r#"select coalesce(g.email, u.email) as shopper_email, g.code, pr.name, o.order_group_id, g.lang,
                  (select u2.email from producer_member m join app_user u2 using (user_id)
                    where m.producer_id = o.producer_id and m.role = 'owner') as owner_email
           from shop_order o join order_group g using (order_group_id) join producer pr using (producer_id)
           left join app_user u on u.user_id = g.user_id
           where o.order_id = $1"#,
        order_id
    )
    .fetch_optional(&state.pool)
    .await
    .ok()
    .flatten()
    .map(|r| Addresses {
        shopper: r.shopper_email,
        owner: r.owner_email,
        code: r.code,
        producer: r.name,
        group_id: r.order_group_id,
        lang: Lang::from_code(&r.lang).unwrap_or_default(),
    })
}

/// What was ordered, as a mail says it: each part's lines, goods and shipping, then the total
/// (only `order_id`'s part when given).
async fn items_text(state: &AppState, group_id: i64, order_id: Option<i64>, lang: Lang) -> String {
    let Ok(lines) = sqlx::query!(
        r#"select o.order_id, pr.name as producer, o.goods_total, o.shipping_fee, o.discount_total,
                  l.name, l.quantity, l.unit, l.line_total, l.discount
           from shop_order o join producer pr using (producer_id) join order_line l using (order_id)
           where o.order_group_id = $1 and ($2::bigint is null or o.order_id = $2)
           order by o.order_id, l.name"#,
        group_id,
        order_id
    )
    .fetch_all(&state.pool)
    .await
    else {
        return String::new();
    };
    let mut out = String::new();
    let mut part = None;
    let (mut goods, mut shipping, mut discount) = (0i64, 0i64, 0i64);
    for (i, l) in lines.iter().enumerate() {
        if part != Some(l.order_id) {
            part = Some(l.order_id);
            goods += l.goods_total;
            shipping += l.shipping_fee;
            discount += l.discount_total;
            out.push_str(&format!(
                "\n{}\n",
                say(
                    lang,
                    "mail-part",
                    &[
                        ("producer", l.producer.clone()),
                        ("part", l.order_id.to_string())
                    ]
                )
            ));
        }
        out.push_str(&format!(
            "  - {} × {} {}: {}{}\n",
            l.name,
            l.quantity,
            l.unit,
            crate::domain::Vnd::format(l.line_total),
            if l.discount > 0 {
                format!(
                    " ({})",
                    say(lang, "mail-line-discount", &[("amount", money(l.discount))])
                )
            } else {
                String::new()
            }
        ));
        let last_of_part = lines.get(i + 1).is_none_or(|n| n.order_id != l.order_id);
        if last_of_part {
            out.push_str(&format!(
                "  {}\n",
                say(
                    lang,
                    "mail-part-totals",
                    &[
                        ("goods", money(l.goods_total)),
                        ("shipping", money(l.shipping_fee))
                    ]
                )
            ));
        }
    }
    out.push_str(&format!(
        "\n{}\n",
        say(
            lang,
            "mail-total",
            &[("amount", money(goods + shipping - discount))]
        )
    ));
    if discount > 0 {
        out.push_str(&format!(
            "{}\n",
            say(lang, "mail-discounted", &[("amount", money(discount))])
        ));
    }
    // each booked experience's voucher, to show at the meeting point
    let ids: Vec<i64> = lines.iter().map(|l| l.order_id).collect();
    for v in crate::experiences::vouchers(&state.pool, &ids)
        .await
        .unwrap_or_default()
    {
        let mut a = FluentArgs::new();
        a.set("code", v.code.clone());
        a.set("product", v.product.clone());
        a.set("starts", v.starts_at.clone());
        a.set("count", i64::from(v.guests));
        a.set("meeting", v.meeting_point.clone());
        out.push_str(&format!("\n{}\n", lang.format("mail-voucher", Some(&a))));
    }
    out
}

/// Tells the shopper and the producer that an order part moved, with what is in it.
pub async fn change(state: &AppState, order_id: i64, to: Status) {
    let Some(Addresses {
        shopper,
        owner,
        code,
        producer,
        group_id,
        lang,
    }) = addresses(state, order_id).await
    else {
        return;
    };
    let items = items_text(state, group_id, Some(order_id), lang).await;
    let link = format!("{}/orders/{code}", state.config.public_url());
    let status = status_in(lang, to);
    state
        .mailer
        .notify(
            shopper.as_deref(),
            &say(
                lang,
                "mail-change-subject",
                &[("code", code.clone()), ("status", status.clone())],
            ),
            format!(
                "{}\n{items}\n{}\n",
                say(
                    lang,
                    "mail-change-body",
                    &[
                        ("code", code.clone()),
                        ("producer", producer),
                        ("status", status)
                    ]
                ),
                say(lang, "mail-see-order", &[("link", link)])
            ),
        )
        .await;
    let items = items_text(state, group_id, Some(order_id), Lang::vi()).await;
    state
        .mailer
        .notify(
            owner.as_deref(),
            &format!("Đơn hàng #{order_id}: {}", to.label()),
            format!(
                "Đơn hàng #{order_id} đã chuyển sang: {}.\n{items}\n{}/producer/orders/{order_id}\n",
                to.label(),
                state.config.public_url()
            ),
        )
        .await;
}

/// What happened to a whole order group, told once to the shopper and once to each producer.
#[derive(Clone, Copy)]
enum GroupEvent {
    Placed,
    Paid,
}

/// Tells the shopper their order was placed, and each producer that an order arrived.
pub async fn placed(state: &AppState, group_id: i64) {
    notify_group(state, group_id, GroupEvent::Placed).await
}

/// Tells the shopper their money arrived (one mail for the group, not one per producer), and
/// each producer that its part is paid.
pub async fn group_paid(state: &AppState, group_id: i64) {
    notify_group(state, group_id, GroupEvent::Paid).await
}

async fn notify_group(state: &AppState, group_id: i64, event: GroupEvent) {
    let Ok(orders) = sqlx::query_scalar!(
        "select order_id from shop_order where order_group_id = $1 order by order_id",
        group_id
    )
    .fetch_all(&state.pool)
    .await
    else {
        return;
    };
    let public = state.config.public_url();
    let mut shopper_told = false;
    for order_id in orders {
        let Some(Addresses {
            shopper,
            owner,
            code,
            lang,
            ..
        }) = addresses(state, order_id).await
        else {
            continue;
        };
        if !shopper_told {
            let items = items_text(state, group_id, None, lang).await;
            let c = [("code", code.clone())];
            let (subject, opening) = match event {
                GroupEvent::Placed => (
                    say(lang, "mail-placed-subject", &c),
                    say(lang, "mail-placed-body", &c),
                ),
                GroupEvent::Paid => (
                    say(lang, "mail-paid-subject", &c),
                    say(lang, "mail-paid-body", &c),
                ),
            };
            state
                .mailer
                .notify(
                    shopper.as_deref(),
                    &subject,
                    format!(
                        "{opening}\n{items}\n{}\n{}\n",
                        say(
                            lang,
                            "mail-see-order",
                            &[("link", format!("{public}/orders/{code}"))]
                        ),
                        say(
                            lang,
                            "mail-receipt",
                            &[("link", format!("{public}/orders/{code}/receipt"))]
                        ),
                    ),
                )
                .await;
            shopper_told = true;
        }
        // the producer's own part, by its own number: never the shopper's code
        let part = items_text(state, group_id, Some(order_id), Lang::vi()).await;
        let (subject, opening) = match event {
            GroupEvent::Placed => (
                format!("Đơn hàng mới #{order_id}"),
                format!("Gian hàng của bạn có đơn hàng mới #{order_id}."),
            ),
            GroupEvent::Paid => (
                format!("Đơn hàng #{order_id}: {}", Status::Paid.label()),
                format!("Đơn hàng #{order_id} đã được thanh toán: hãy xác nhận và chuẩn bị hàng."),
            ),
        };
        state
            .mailer
            .notify(
                owner.as_deref(),
                &subject,
                format!("{opening}\n{part}\n{public}/producer/orders/{order_id}\n"),
            )
            .await;
    }
}
