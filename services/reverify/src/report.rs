//! The HTML report: one self-contained file (inline CSS and SVG, no scripts, no external
//! resources) with the run's headline figures and four plots: score histogram (genuine against
//! impostor when labels were given), decision counts, reason-code counts, and throughput over
//! time. Every text that came from data is HTML-escaped.

use std::fmt::Write as _;

use crate::summary::Summary;

const CHART_WIDTH: f64 = 640.0;
const CHART_HEIGHT: f64 = 220.0;
const MARGIN_LEFT: f64 = 48.0;
const MARGIN_BOTTOM: f64 = 36.0;

/// Renders the report for `summary`.
pub fn render_report(summary: &Summary) -> String {
    let mut html = String::with_capacity(32 * 1024);
    html.push_str(concat!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<title>simgate re-verification report</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#1a1a1a;max-width:60rem}",
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #bbb;padding:.3rem .6rem;text-align:left}",
        "th{background:#eee}svg{display:block;margin:.5rem 0 1.5rem}figcaption{font-weight:600}",
        ".genuine{fill:#1b7837}.impostor{fill:#b2182b}.unlabelled{fill:#4d4d4d}.bar{fill:#2166ac}",
        ".axis{stroke:#333}.threshold{stroke:#e08214;stroke-width:2;stroke-dasharray:4 3}",
        "text{font-size:11px;fill:#1a1a1a}",
        "</style></head><body>\n<h1>Re-verification report</h1>\n",
    ));
    headline(&mut html, summary);
    score_histogram(&mut html, summary);
    let decisions: Vec<(String, u64)> = summary
        .decisions
        .iter()
        .map(|(name, count)| (name.clone(), *count))
        .collect();
    bar_chart(&mut html, "Decisions", &decisions);
    let mut reasons: Vec<(String, u64)> = summary
        .reasons
        .iter()
        .map(|(name, count)| (name.clone(), *count))
        .collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    reasons.truncate(20);
    bar_chart(&mut html, "Reason codes (most frequent 20)", &reasons);
    timeline(&mut html, summary);
    html.push_str("</body></html>\n");
    html
}

fn headline(html: &mut String, summary: &Summary) {
    let mut rows: Vec<(String, String)> = vec![
        (
            "Records with a result".into(),
            format!(
                "{} of {}{}",
                summary.records,
                summary.expected_records,
                if summary.complete {
                    ""
                } else {
                    " (incomplete: re-run to resume)"
                }
            ),
        ),
        (
            "Threshold".into(),
            summary.threshold.map_or("-".into(), |t| {
                format!(
                    "{t:.4} (FMR {})",
                    summary
                        .threshold_fmr
                        .map_or("-".into(), |f| format!("{f:e}"))
                )
            }),
        ),
        (
            "Models".into(),
            summary
                .models
                .iter()
                .map(|m| format!("{} + {}", m.detector, m.recogniser))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (
            "Latency per record".into(),
            format!(
                "median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
                summary.latency_ms.median, summary.latency_ms.p95, summary.latency_ms.max
            ),
        ),
        (
            "Throughput per process".into(),
            summary
                .throughput
                .records_per_second_per_process
                .map_or("-".into(), |r| format!("{r:.2} records/s")),
        ),
    ];
    let labelled = &summary.labelled;
    if labelled.genuine + labelled.impostor > 0 {
        let percent = |rate: Option<f64>| rate.map_or("-".into(), |r| format!("{:.2}%", r * 100.0));
        rows.push((
            "False non-match rate".into(),
            format!(
                "{} ({} of {} scored genuine records)",
                percent(labelled.fnmr),
                labelled.false_non_matches,
                labelled.genuine_scored
            ),
        ));
        rows.push((
            "False match rate".into(),
            format!(
                "{} ({} of {} scored impostor records)",
                percent(labelled.fmr),
                labelled.false_matches,
                labelled.impostor_scored
            ),
        ));
    }
    html.push_str("<table>\n");
    for (name, value) in rows {
        let _ = writeln!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(&name),
            escape(&value)
        );
    }
    html.push_str("</table>\n");
}

fn score_histogram(html: &mut String, summary: &Summary) {
    let histogram = &summary.histogram;
    let series = [
        ("genuine", &histogram.genuine),
        ("impostor", &histogram.impostor),
        ("unlabelled", &histogram.unlabelled),
    ];
    let max = series
        .iter()
        .flat_map(|(_, bins)| bins.iter())
        .copied()
        .max()
        .unwrap_or(0);
    html.push_str("<figure><figcaption>Similarity scores");
    html.push_str(
        if summary.labelled.genuine + summary.labelled.impostor > 0 {
            " (green: genuine, red: impostor, grey: unlabelled; dashed: threshold)"
        } else {
            " (dashed: threshold)"
        },
    );
    html.push_str("</figcaption>\n");
    if max == 0 {
        html.push_str("<p>No record was scored.</p></figure>\n");
        return;
    }
    open_svg(html, "Histogram of similarity scores");
    let plot_width = CHART_WIDTH - MARGIN_LEFT - 8.0;
    let plot_height = CHART_HEIGHT - MARGIN_BOTTOM - 8.0;
    let bins = histogram.genuine.len().max(1);
    let bin_width = plot_width / bins as f64;
    let bar_width = bin_width / 3.0;
    for (offset, (class, counts)) in series.iter().enumerate() {
        for (bin, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let height = plot_height * count as f64 / max as f64;
            let x = MARGIN_LEFT + bin as f64 * bin_width + offset as f64 * bar_width;
            let _ = writeln!(
                html,
                "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_width:.1}\" height=\"{height:.1}\"><title>{count}</title></rect>",
                8.0 + plot_height - height
            );
        }
    }
    let score_x = |score: f64| {
        MARGIN_LEFT
            + (score - f64::from(histogram.start)) / f64::from(histogram.bin_width) * bin_width
    };
    for tick in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        let _ = writeln!(
            html,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{tick}</text>",
            score_x(tick),
            CHART_HEIGHT - MARGIN_BOTTOM + 18.0
        );
    }
    if let Some(threshold) = summary.threshold {
        let x = score_x(f64::from(threshold));
        let _ = writeln!(
            html,
            "<line class=\"threshold\" x1=\"{x:.1}\" y1=\"8\" x2=\"{x:.1}\" y2=\"{:.1}\"/>",
            8.0 + plot_height
        );
    }
    axes(html, max);
    html.push_str("</svg></figure>\n");
}

fn bar_chart(html: &mut String, title: &str, bars: &[(String, u64)]) {
    let _ = writeln!(html, "<figure><figcaption>{}</figcaption>", escape(title));
    let max = bars.iter().map(|(_, count)| *count).max().unwrap_or(0);
    if max == 0 {
        html.push_str("<p>None.</p></figure>\n");
        return;
    }
    let row = 20.0;
    let label_width = 230.0;
    let height = row * bars.len() as f64 + 8.0;
    let _ = writeln!(
        html,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    let bar_space = CHART_WIDTH - label_width - 60.0;
    for (index, (name, count)) in bars.iter().enumerate() {
        let y = 4.0 + index as f64 * row;
        let width = bar_space * *count as f64 / max as f64;
        let _ = writeln!(
            html,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{label_width}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\">{count}</text>",
            label_width - 6.0,
            y + 13.0,
            escape(name),
            row - 6.0,
            label_width + width + 4.0,
            y + 13.0
        );
    }
    html.push_str("</svg></figure>\n");
}

fn timeline(html: &mut String, summary: &Summary) {
    let throughput = &summary.throughput;
    let _ = writeln!(
        html,
        "<figure><figcaption>Records completed per {} s over wall time</figcaption>",
        throughput.bucket_seconds.max(1)
    );
    let max = throughput
        .timeline
        .iter()
        .map(|p| p.records)
        .max()
        .unwrap_or(0);
    let last = throughput
        .timeline
        .last()
        .map_or(0, |p| p.offset_seconds)
        .max(1);
    if max == 0 {
        html.push_str("<p>No records yet.</p></figure>\n");
        return;
    }
    open_svg(html, "Throughput over time");
    let plot_width = CHART_WIDTH - MARGIN_LEFT - 8.0;
    let plot_height = CHART_HEIGHT - MARGIN_BOTTOM - 8.0;
    let points: Vec<String> = throughput
        .timeline
        .iter()
        .map(|p| {
            format!(
                "{:.1},{:.1}",
                MARGIN_LEFT + plot_width * p.offset_seconds as f64 / last as f64,
                8.0 + plot_height - plot_height * p.records as f64 / max as f64
            )
        })
        .collect();
    let _ = writeln!(
        html,
        "<polyline fill=\"none\" stroke=\"#2166ac\" stroke-width=\"2\" points=\"{}\"/>",
        points.join(" ")
    );
    let _ = writeln!(
        html,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{last} s</text>",
        CHART_WIDTH - 8.0,
        CHART_HEIGHT - MARGIN_BOTTOM + 18.0
    );
    axes(html, max);
    html.push_str(
        "</svg>\n<table><tr><th>shard</th><th>run</th><th>records</th><th>records/s</th></tr>\n",
    );
    for segment in &throughput.segments {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            segment.shard_index,
            segment.run,
            segment.records,
            segment
                .records_per_second
                .map_or("-".into(), |r| format!("{r:.2}"))
        );
    }
    html.push_str("</table></figure>\n");
}

fn open_svg(html: &mut String, label: &str) {
    let _ = writeln!(
        html,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        escape(label)
    );
}

fn axes(html: &mut String, max: u64) {
    let bottom = CHART_HEIGHT - MARGIN_BOTTOM;
    let _ = writeln!(
        html,
        "<line class=\"axis\" x1=\"{MARGIN_LEFT}\" y1=\"8\" x2=\"{MARGIN_LEFT}\" y2=\"{bottom}\"/><line class=\"axis\" x1=\"{MARGIN_LEFT}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\"/><text x=\"{:.1}\" y=\"16\" text-anchor=\"end\">{max}</text><text x=\"{:.1}\" y=\"{bottom}\" text-anchor=\"end\">0</text>",
        CHART_WIDTH - 8.0,
        MARGIN_LEFT - 4.0,
        MARGIN_LEFT - 4.0
    );
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn report_is_self_contained_and_escapes_reason_codes() {
        let mut summary = Summary {
            records: 2,
            expected_records: 2,
            ..Summary::default()
        };
        summary.decisions.insert("match".into(), 2);
        summary
            .reasons
            .insert("<script>alert(1)</script>".into(), 1);
        summary.histogram.genuine[30] = 2;
        summary.threshold = Some(0.4);
        let html = render_report(&summary);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(
            !html.contains("src=") && !html.contains("href="),
            "no external resources"
        );
        assert_eq!(
            html.matches("<svg").count(),
            3,
            "histogram, decisions, reasons"
        );
    }
}
