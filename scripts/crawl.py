#!/usr/bin/env python3
"""Crawls a running marketplace as visitors would (anonymous, then signed in as each demo role)
and writes, per page, its status and its visible text, so two builds can be compared:

    scripts/crawl.py http://127.0.0.1:3000 > before.json
    ... change the code, run the demo again ...
    scripts/crawl.py http://127.0.0.1:3000 > after.json
    scripts/crawl.py --diff before.json after.json

Only GET links on the site are followed (never log-out or one-time links), up to --limit pages
per visitor. Text that changes on its own (times of day, tokens) is masked.
"""
import html.parser
import http.cookiejar
import json
import re
import sys
import urllib.parse
import urllib.request

PASSWORD = "demo-ocop-2025"
VISITORS = [None, "trunguong@demo.ocop.vn", "quangninh@demo.ocop.vn", "sanxuat@demo.ocop.vn"]
SKIP = re.compile(r"^/(logout|signup/confirm|password/reset|invite/|sandbox/|media/|img/|static/|favicon)|\.csv|qr\.svg")


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.text, self.hidden, self.csrf = [], [], 0, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style", "svg", "title"):
            self.hidden += 1
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "input" and a.get("name") == "csrf" and not self.csrf:
            self.csrf = a.get("value")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg", "title"):
            self.hidden = max(0, self.hidden - 1)

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.text.append(data.strip())


def mask(text):
    # the site's own address (each run may serve on another port)
    text = re.sub(r"https?://(127\.0\.0\.1|localhost)(:\d+)?", "BASE", text)
    text = re.sub(r"\b\d{1,2}:\d{2}(:\d{2})?\b", "HH:MM", text)
    text = re.sub(r"\b[0-9a-f]{24,}\b", "TOKEN", text)
    # the crawl's own visits move the dashboard's visit counters
    text = re.sub(r"(Lượt xem trang|Lượt xem sản phẩm|Khách truy cập \(theo ngày\)) [\d.]+", r"\1 N", text)
    return text


def crawl(base, login, limit):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", "ocop-crawl")]

    def get(path):
        try:
            r = opener.open(base + path, timeout=30)
            return r.status, r.read().decode("utf-8", "replace"), r.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace"), e.headers.get("content-type", "")

    if login:
        _, body, _ = get("/login")
        p = Page()
        p.feed(body)
        data = urllib.parse.urlencode({"csrf": p.csrf, "login": login, "password": PASSWORD}).encode()
        opener.open(urllib.request.Request(base + "/login", data=data), timeout=30)
    seen, queue, out = set(), ["/", "/products", "/api/v1/products", "/account", "/producer", "/staff"], {}
    while queue and len(out) < limit:
        path = queue.pop(0)
        if path in seen or SKIP.search(path):
            continue
        seen.add(path)
        status, body, kind = get(path)
        if "json" in kind:
            out[path] = [status, mask(body)[:4000]]
            continue
        p = Page()
        p.feed(body)
        out[path] = [status, mask(" ".join(p.text))]
        for href in p.links:
            u = urllib.parse.urlparse(urllib.parse.urljoin(base + path, href))
            if u.netloc != urllib.parse.urlparse(base).netloc:
                continue
            link = u.path + ("?" + u.query if u.query else "")
            if link not in seen:
                queue.append(link)
    return out


def main():
    if sys.argv[1] == "--diff":
        a, b = (json.load(open(f)) for f in sys.argv[2:4])
        for run in (a, b):
            for pages in run.values():
                for page in pages.values():
                    page[1] = mask(page[1])
        changed = 0
        for who in sorted(set(a) | set(b)):
            pa, pb = a.get(who, {}), b.get(who, {})
            for path in sorted(set(pa) & set(pb)):
                if pa[path] != pb[path]:
                    changed += 1
                    print(f"{who} {path}: {pa[path][0]} → {pb[path][0]}")
                    if pa[path][1] != pb[path][1]:
                        wa, wb = pa[path][1].split(), pb[path][1].split()
                        i = next((k for k in range(min(len(wa), len(wb))) if wa[k] != wb[k]), min(len(wa), len(wb)))
                        print("   before: …" + " ".join(wa[max(0, i - 8):i + 12]))
                        print("   after:  …" + " ".join(wb[max(0, i - 8):i + 12]))
            only = set(pa) ^ set(pb)
            if only:
                print(f"{who}: {len(only)} pages crawled in one run only (the crawl is capped)")
        total = sum(len(set(a.get(w, {})) & set(b.get(w, {}))) for w in set(a) | set(b))
        print(f"{changed} of {total} pages differ")
        sys.exit(1 if changed else 0)
    base = sys.argv[1].rstrip("/")
    limit = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--limit" else 400
    json.dump({str(v): crawl(base, v, limit) for v in VISITORS}, sys.stdout, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
