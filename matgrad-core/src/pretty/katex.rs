//! Typeset formulas in the documentation of generated items.
//!
//! The items are documented by the user's own rustdoc, which loads no KaTeX unless the user's
//! crate asks for it; so each formula carries what it needs. After the plain-text block comes
//! a hidden element holding the LaTeX and a small script that loads KaTeX from a CDN (pinned,
//! with subresource integrity, as faer's `katex-header.html` does) and, once it has rendered
//! the formula, hides the text block. Without scripts, offline, or if KaTeX cannot parse the
//! LaTeX, the element stays hidden and the plain text is what the reader sees; the text is
//! also what the `_FORMULA` constants hold. Nothing is downloaded at build time.

/// KaTeX, pinned, with its subresource-integrity hashes (the versions faer's docs load).
const KATEX_CSS: &str = "https://cdn.jsdelivr.net/npm/katex@0.10.0/dist/katex.min.css";
const KATEX_CSS_SRI: &str =
    "sha384-9eLZqc9ds8eNjO3TmqPeYcDj8n+Qfa4nuSiGYa6DjLNcv9BtN69ZIulL9+8CqC9Y";
const KATEX_JS: &str = "https://cdn.jsdelivr.net/npm/katex@0.10.0/dist/katex.min.js";
const KATEX_JS_SRI: &str =
    "sha384-K3vbOmF2BtaVai+Qk37uypf7VrgBubhQreNQe9aGsz9lB63dIFiQVlJbr92dw2Lx";

/// The HTML that follows a plain-text formula block in a doc comment to typeset it: `lines`
/// are LaTeX, one equation each. Empty if there is nothing to typeset.
pub fn typeset(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let tex = if lines.len() == 1 {
        lines[0].clone()
    } else {
        format!(
            r"\begin{{gathered}} {} \end{{gathered}}",
            lines.join(r" \\ ")
        )
    };
    // An HTML block of one line each: Markdown leaves it as it is (no blank line inside).
    format!(
        "<div class=\"matgrad-tex\" data-tex=\"{}\" hidden></div>\n<script>{}</script>",
        attribute(&tex),
        loader()
    )
}

/// Text as the value of an HTML attribute in double quotes.
fn attribute(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Render every `.matgrad-tex` element of the page, loading KaTeX first if the page has not;
/// runs once per page however many formulas it shows.
fn loader() -> String {
    format!(
        "(function(){{if(window.matgradTex)return;window.matgradTex=1;\
function go(){{document.querySelectorAll('.matgrad-tex').forEach(function(e){{\
try{{katex.render(e.getAttribute('data-tex'),e,{{displayMode:true,throwOnError:true}});\
e.hidden=false;var p=e.previousElementSibling;if(p)p.hidden=true;}}catch(_){{}}}});}}\
function load(){{if(window.katex)return go();var d=document.head;\
var l=document.createElement('link');l.rel='stylesheet';l.href='{KATEX_CSS}';\
l.integrity='{KATEX_CSS_SRI}';l.crossOrigin='anonymous';d.appendChild(l);\
var s=document.createElement('script');s.src='{KATEX_JS}';s.integrity='{KATEX_JS_SRI}';\
s.crossOrigin='anonymous';s.onload=go;d.appendChild(s);}}\
if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',load);else load();}})();"
    )
}
