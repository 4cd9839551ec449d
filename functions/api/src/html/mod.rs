//! The frame of every page the API serves (the approval page, the inbox, sign-in and
//! sign-out): one style sheet, no scripts, and one escaping function for whatever goes
//! inside. `request` and `inbox` lay out what those pages show; all escaping happens here.

pub(crate) mod grants;
pub(crate) mod inbox;
pub(crate) mod request;

pub(crate) use tollgate_core::display::html_escape as esc;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:42rem;margin:0 auto;padding:1rem;line-height:1.4;color:#1a1a1a}\
h1{font-size:1.4rem;word-break:break-word}pre{background:#f4f4f4;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}\
dt{font-weight:600;margin-top:.5rem}dd{margin:0 0 0 .2rem;word-break:break-word}code{word-break:break-all}\
.flag{display:inline-block;background:#fde2e1;color:#8a1c13;border-radius:.3rem;padding:0 .4rem;margin:.1rem}\
button{font-size:1.1rem;padding:.7rem 1.2rem;border:0;border-radius:.4rem;margin:.4rem 0;width:100%}\
.approve{background:#1a7f37;color:#fff}.reject{background:#b42318;color:#fff}\
button.link{background:none;color:#0645ad;padding:0;width:auto;font-size:1rem;text-decoration:underline}\
form.inline{display:inline}textarea{width:100%;font-size:1rem;box-sizing:border-box}\
a.button{display:block;text-align:center;background:#0645ad;color:#fff;padding:.7rem;border-radius:.4rem;text-decoration:none}\
.warn{background:#fff4e5;padding:.5rem;border-radius:.3rem}.ok{background:#e6f4ea;padding:.5rem;border-radius:.3rem}\
.final{background:#eef;padding:.5rem;border-radius:.3rem}\
blockquote.reason{margin:0;padding:.2rem .6rem;border-left:.25rem solid #999;white-space:pre-wrap;word-break:break-word}\
table.preview{border-collapse:collapse;width:100%}table.preview th,table.preview td{text-align:left;vertical-align:top;padding:.1rem .4rem .1rem 0;word-break:break-word}\
ul.inbox{list-style:none;padding:0}ul.inbox>li{border:1px solid #ddd;border-radius:.4rem;padding:.5rem;margin:.5rem 0;word-break:break-word}\
ul.inbox ul{margin:.2rem 0;padding-left:1.1rem}.left{display:block;font-size:.9rem;color:#555}\
form.filters label{display:block;margin:.3rem 0}form.filters input,form.filters select{font-size:1rem;width:100%;box-sizing:border-box;padding:.3rem}\
form.filters button{background:#0645ad;color:#fff}ol.timeline{padding-left:1.2rem}ol.timeline li{margin:.2rem 0;word-break:break-word}";

/// A complete page: phone-sized, no scripts.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Tollgate: {t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n{body}\n</body></html>",
        t = esc(title)
    )
}
