//! Ways through the document that the passes over it share: every operation, and every schema
//! wherever it stands (components, parameters, bodies, answers, and inside other schemas).

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema};
use utoipa::openapi::{OpenApi, RefOr};

/// The operations of a path item, whichever methods it has.
pub(super) fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// Calls `f` on every schema of the document, the parts of a schema before the schema itself.
pub(super) fn schemas_mut(doc: &mut OpenApi, f: &mut dyn FnMut(&mut RefOr<Schema>)) {
    if let Some(components) = &mut doc.components {
        for schema in components.schemas.values_mut() {
            schema_mut(schema, f);
        }
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            for parameter in op.parameters.iter_mut().flatten() {
                if let Some(schema) = &mut parameter.schema {
                    schema_mut(schema, f);
                }
            }
            for content in op
                .request_body
                .iter_mut()
                .flat_map(|body| body.content.values_mut())
            {
                if let Some(schema) = &mut content.schema {
                    schema_mut(schema, f);
                }
            }
            for response in op.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                for content in response.content.values_mut() {
                    if let Some(schema) = &mut content.schema {
                        schema_mut(schema, f);
                    }
                }
            }
        }
    }
}

/// Calls `f` on `schema` and every schema inside it, the inner ones first.
fn schema_mut(schema: &mut RefOr<Schema>, f: &mut dyn FnMut(&mut RefOr<Schema>)) {
    if let RefOr::T(inner) = schema {
        match inner {
            Schema::Object(object) => {
                for property in object.properties.values_mut() {
                    schema_mut(property, f);
                }
                if let Some(more) = &mut object.additional_properties {
                    if let AdditionalProperties::RefOr(more) = more.as_mut() {
                        schema_mut(more, f);
                    }
                }
            }
            Schema::Array(array) => {
                if let ArrayItems::RefOrSchema(items) = &mut array.items {
                    schema_mut(items, f);
                }
            }
            Schema::OneOf(one) => one.items.iter_mut().for_each(|s| schema_mut(s, f)),
            Schema::AllOf(all) => all.items.iter_mut().for_each(|s| schema_mut(s, f)),
            Schema::AnyOf(any) => any.items.iter_mut().for_each(|s| schema_mut(s, f)),
            _ => {}
        }
    }
    f(schema);
}
