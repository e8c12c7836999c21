//! The bench's ratio chart as SVG text: rectangles and labels, which any
//! browser and GitHub render, with nothing to encode by hand.

use std::fmt::Write;

/// An SVG drawing being built.
#[derive(Debug, Clone)]
pub struct Svg {
    width: u32,
    height: u32,
    body: String,
}

fn colour([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// `text` with the characters XML gives a meaning escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Svg {
    /// A drawing filled with `background`.
    pub fn new(width: u32, height: u32, background: [u8; 3]) -> Self {
        let mut s = Svg {
            width,
            height,
            body: String::new(),
        };
        s.rect(0, 0, i64::from(width), i64::from(height), background);
        s
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// A filled rectangle.
    pub fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, fill: [u8; 3]) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{}"/>"#,
            colour(fill)
        );
    }

    /// A label, its top left corner at (x, y), `size` pixels high.
    pub fn text(&mut self, x: i64, y: i64, text: &str, size: i64, fill: [u8; 3]) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x}" y="{}" font-size="{size}" font-family="sans-serif" fill="{}">{}</text>"#,
            y + size,
            colour(fill),
            escape(text)
        );
    }

    /// The SVG document.
    pub fn finish(&self) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n{}</svg>\n",
            self.body,
            w = self.width,
            h = self.height
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_escaped_text_and_rectangles() {
        let mut s = Svg::new(100, 50, [255, 255, 255]);
        s.rect(1, 2, 3, 4, [46, 160, 67]);
        s.text(5, 6, "W1 < 0.30x & more", 12, [30, 30, 30]);
        let doc = s.finish();
        assert!(doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\""));
        assert!(doc.contains(r##"<rect x="1" y="2" width="3" height="4" fill="#2ea043"/>"##));
        assert!(doc.contains(">W1 &lt; 0.30x &amp; more</text>"));
        assert!(doc.trim_end().ends_with("</svg>"));
    }
}
