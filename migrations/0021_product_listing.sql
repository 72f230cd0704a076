-- The one definition of a listed product, which every reader uses: the catalog snapshot, checkout
-- and the search documents. A product is listed while it is visible, its producer is approved,
-- and its latest certificate verified by its province's staff is active: until `listed_until`,
-- the certificate's expiry day (Vietnam time), which itself is no longer listed.
create view product_listing as
select p.product_id, c.certificate_id, c.stars, c.status as certificate_status, c.expires_on,
       case when not p.hidden and pr.status = 'approved' and c.status = 'active'
            then c.expires_on end as listed_until
from product p
join producer pr using (producer_id)
left join lateral (
    select certificate_id, stars, status, expires_on from certificate c
    where c.product_id = p.product_id and c.verification = 'verified'
    order by c.issued_on desc, c.certificate_id desc limit 1
) c on true;
