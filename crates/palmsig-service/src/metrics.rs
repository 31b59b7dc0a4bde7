//! Prometheus metrics kept in memory: request counts by route and status, and latency histograms
//! by route (server-side time, the figure the enrol/identify benchmark reports).
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Histogram bucket bounds (seconds).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Hist {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    n: u64,
}

/// The metrics registry.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Hist>>,
    gauges: Mutex<BTreeMap<String, f64>>,
}

impl Metrics {
    /// Count one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
        }
        if let Ok(mut h) = self.latency.lock() {
            let h = h.entry(route.to_string()).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.n += 1;
        }
    }
    /// Set a gauge.
    pub fn set_gauge(&self, name: &str, v: f64) {
        if let Ok(mut g) = self.gauges.lock() {
            g.insert(name.to_string(), v);
        }
    }
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP palmsig_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE palmsig_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(out, "palmsig_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP palmsig_http_request_duration_seconds Server-side request latency by route.\n",
        );
        out.push_str("# TYPE palmsig_http_request_duration_seconds histogram\n");
        if let Ok(h) = self.latency.lock() {
            for (route, h) in h.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(out, "palmsig_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}", h.counts[i]);
                }
                let _ = writeln!(out, "palmsig_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.n);
                let _ = writeln!(
                    out,
                    "palmsig_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "palmsig_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.n
                );
            }
        }
        if let Ok(g) = self.gauges.lock() {
            for (name, v) in g.iter() {
                let _ = writeln!(out, "# TYPE {name} gauge\n{name} {v}");
            }
        }
        out
    }
}
