//! How Kassa's log lines are written (docs/api.md §12, `log.format`): text or one JSON object a
//! line, to stderr, with colour codes only when stderr is a terminal, so a file or a journal
//! never gets escape sequences. The `kassa` binary installs it; tests build the same subscriber
//! over a buffer to read the lines back.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// What is logged when `KASSA_LOG` does not say: info, without sqlx's statement lines.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// The filter of `KASSA_LOG` (an `EnvFilter` directive such as `info,kassa::request=warn`), else
/// [`DEFAULT_FILTER`].
pub fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_env("KASSA_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// The subscriber writing to `writer` in `format`; colours only with `ansi`. A JSON line has the
/// event's fields at the top level (`{"timestamp", "level", "message", "method", …}`) and the
/// request's span (its `id`) under `span`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
    }
}

/// Installs the process's logger: stderr, colours only if it is a terminal.
pub fn init(format: LogFormat) {
    let ansi = std::io::stderr().is_terminal();
    let subscriber = subscriber(format, filter_from_env(), std::io::stderr, ansi);
    // Only fails if a logger is installed already, which then stays.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer appending to a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat, ansi: bool) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = subscriber(format, EnvFilter::new("info"), move || writer.clone(), ansi);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(route = "/v1/payments/{id}", status = 200, "request");
        });
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn text_has_colour_codes_only_when_asked() {
        let plain = logged(LogFormat::Text, false);
        assert!(
            plain.contains("route=\"/v1/payments/{id}\" status=200"),
            "{plain}"
        );
        assert!(!plain.contains('\u{1b}'), "{plain:?}");
        assert!(logged(LogFormat::Text, true).contains('\u{1b}'));
    }

    #[test]
    fn json_is_one_flat_object_a_line_without_colour() {
        let text = logged(LogFormat::Json, true);
        assert!(!text.contains('\u{1b}'), "{text:?}");
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["message"], "request");
        assert_eq!(line["route"], "/v1/payments/{id}");
        assert_eq!(line["status"], 200);
        assert_eq!(line["level"], "INFO");
    }
}
