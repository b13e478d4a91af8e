//! `kassa openapi`: print the OpenAPI document of the JSON API (the same one `GET /v1/openapi.json`
//! serves), so client generators and CI can read it without a running server or a database.

use std::io::Write;

pub fn run() -> anyhow::Result<()> {
    let json = kassa_server::openapi::document().to_pretty_json()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}")?;
    Ok(())
}
