//! A body that is a file's raw bytes (a logo uploaded, a QR code answered), as the OpenAPI
//! document shows it: a binary string of the operation's media type, so client generators send
//! and read it as a file.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// The bytes of a file; only its schema is used.
pub struct FileBody;

impl PartialSchema for FileBody {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("The file's raw bytes."))
            .into()
    }
}

impl ToSchema for FileBody {
    fn name() -> Cow<'static, str> {
        "FileBody".into()
    }
}
