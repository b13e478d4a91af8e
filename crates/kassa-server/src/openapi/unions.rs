//! Unions in the shape client generators can type. utoipa writes a serde-tagged enum as a `oneOf`
//! of unnamed objects, a `#[serde(flatten)]` of one as an `allOf` over that `oneOf` (which
//! openapi-python-client drops whole), and "null or T" as a `oneOf` too. Here, after the fact
//! and for every such type at once:
//! - a `oneOf` with one alternative is that alternative, and "null or T" is an `anyOf`, so a
//!   `oneOf` is always a union of objects;
//! - an `allOf` of plain objects (a flattened struct) is the one object they make;
//! - a union whose alternatives share a tag (a property with one constant string each, like
//!   `"type": "card"`) has each alternative as a named schema (`CardMaskedMethod`) and a
//!   `discriminator` with the tag's mapping;
//! - an `allOf` over such a union and plain objects becomes the union of the merged objects
//!   (`CardPaymentMethod` = `CardMaskedMethod` + the stored method's own fields).

use std::collections::BTreeMap;

use utoipa::openapi::schema::{AnyOf, Discriminator, Object, OneOf, Schema, SchemaType, Type};
use utoipa::openapi::{Components, OpenApi, Ref, RefOr};

use super::walk::schemas_mut;

const COMPONENT: &str = "#/components/schemas/";

pub(super) fn apply(doc: &mut OpenApi) {
    schemas_mut(doc, &mut plain_alternatives);
    let Some(components) = &mut doc.components else {
        return;
    };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for name in &names {
        merge_objects(components, name);
    }
    for name in &names {
        name_variants(components, name);
    }
    for name in &names {
        distribute(components, name);
    }
}

/// A `oneOf` of one schema is that schema; "null or T" is `anyOf`.
fn plain_alternatives(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::OneOf(one)) = schema else {
        return;
    };
    match one.items.as_mut_slice() {
        [only] => {
            let mut only = only.clone();
            if let Some(description) = one.description.take() {
                match &mut only {
                    RefOr::Ref(r) => r.description = description,
                    RefOr::T(Schema::Object(o)) => o.description = Some(description),
                    RefOr::T(_) => {}
                }
            }
            *schema = only;
        }
        [a, b] if is_null(a) || is_null(b) => {
            let mut any = AnyOf::new();
            any.items = std::mem::take(&mut one.items);
            any.description = one.description.take();
            any.default = one.default.take();
            any.example = one.example.take();
            any.examples = std::mem::take(&mut one.examples);
            *schema = RefOr::T(Schema::AnyOf(any));
        }
        _ => {}
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

/// The component `name`, if it is an `allOf` of plain objects: the one object they make.
fn merge_objects(components: &mut Components, name: &str) {
    let Some(RefOr::T(Schema::AllOf(all))) = components.schemas.get(name) else {
        return;
    };
    let Some(parts) = all
        .items
        .iter()
        .map(|part| object_of(components, part))
        .collect::<Option<Vec<&Object>>>()
    else {
        return;
    };
    let mut merged = merged(&Object::new(), &parts);
    merged.description = all.description.clone();
    components
        .schemas
        .insert(name.to_string(), Schema::Object(merged).into());
}

/// `first` with the properties of `parts` added, and their requirements.
fn merged(first: &Object, parts: &[&Object]) -> Object {
    let mut merged = first.clone();
    merged.schema_type = SchemaType::Type(Type::Object);
    for part in parts {
        merged
            .properties
            .extend(part.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged.required.extend(part.required.iter().cloned());
    }
    merged.required.sort();
    merged.required.dedup();
    merged
}

/// The component `name`, if it is a tagged `oneOf` without a discriminator yet: each unnamed
/// alternative becomes the component `<Tag><name>`, and the tag the discriminator.
fn name_variants(components: &mut Components, name: &str) {
    let Some(RefOr::T(Schema::OneOf(one))) = components.schemas.get(name) else {
        return;
    };
    if one.discriminator.is_some() {
        return;
    }
    let Some((tag, values)) = shared_tag(components, &one.items) else {
        return;
    };
    let mut one = one.clone();
    let mut mapping = BTreeMap::new();
    for (item, value) in one.items.iter_mut().zip(values) {
        let location = match item {
            RefOr::Ref(r) => r.ref_location.clone(),
            RefOr::T(schema) => {
                let variant = format!("{}{name}", pascal_case(&value));
                let mut schema = schema.clone();
                if let Schema::Object(object) = &mut schema {
                    object
                        .description
                        .get_or_insert_with(|| format!("`{name}` with `{tag}` `{value}`."));
                }
                components.schemas.insert(variant.clone(), schema.into());
                *item = Ref::from_schema_name(&variant).into();
                format!("{COMPONENT}{variant}")
            }
        };
        mapping.insert(value, location);
    }
    one.discriminator = Some(discriminator(tag, mapping));
    components
        .schemas
        .insert(name.to_string(), Schema::OneOf(one).into());
}

/// The property every alternative has, required, with one constant string of its own (the
/// first such in name order), and each alternative's value of it.
fn shared_tag(components: &Components, items: &[RefOr<Schema>]) -> Option<(String, Vec<String>)> {
    let objects: Vec<&Object> = items
        .iter()
        .map(|item| object_of(components, item))
        .collect::<Option<_>>()?;
    let first = objects.first()?;
    first.properties.keys().find_map(|property| {
        let values: Vec<String> = objects
            .iter()
            .map(|o| constant(o, property))
            .collect::<Option<_>>()?;
        let mut distinct = values.clone();
        distinct.sort();
        distinct.dedup();
        (distinct.len() == values.len()).then(|| (property.clone(), values))
    })
}

/// The object schema `item` is or names.
fn object_of<'a>(components: &'a Components, item: &'a RefOr<Schema>) -> Option<&'a Object> {
    match item {
        RefOr::T(Schema::Object(object)) => Some(object),
        RefOr::T(_) => None,
        RefOr::Ref(r) => component_object(components, r.ref_location.strip_prefix(COMPONENT)?),
    }
}

/// The component `name`, if it is an object schema.
fn component_object<'a>(components: &'a Components, name: &str) -> Option<&'a Object> {
    match components.schemas.get(name)? {
        RefOr::T(Schema::Object(object)) => Some(object),
        _ => None,
    }
}

/// The one string `property` of `object` can be, if it is required and a constant.
fn constant(object: &Object, property: &str) -> Option<String> {
    if !object.required.iter().any(|r| r == property) {
        return None;
    }
    let RefOr::T(Schema::Object(p)) = object.properties.get(property)? else {
        return None;
    };
    match p.enum_values.as_deref()? {
        [serde_json::Value::String(value)] => Some(value.clone()),
        _ => None,
    }
}

/// The component `name`, if it is an `allOf` of one discriminated union and plain objects: the
/// union of each variant merged with the objects, named `<Tag><name>`.
fn distribute(components: &mut Components, name: &str) {
    let Some(RefOr::T(Schema::AllOf(all))) = components.schemas.get(name) else {
        return;
    };
    let (unions, parts): (Vec<&RefOr<Schema>>, Vec<&RefOr<Schema>>) = all
        .items
        .iter()
        .partition(|item| union_of(components, item).is_some());
    let [union] = unions.as_slice() else {
        return;
    };
    let Some(union) = union_of(components, union) else {
        return;
    };
    let Some(parts) = parts
        .iter()
        .map(|part| object_of(components, part))
        .collect::<Option<Vec<&Object>>>()
    else {
        return;
    };
    let Some(union_discriminator) = &union.discriminator else {
        return;
    };
    let tag = union_discriminator.property_name.clone();
    let mut variants = Vec::new();
    for (value, location) in &union_discriminator.mapping {
        let Some(variant) = location
            .strip_prefix(COMPONENT)
            .and_then(|v| component_object(components, v))
        else {
            return;
        };
        let mut merged = merged(variant, &parts);
        merged.description = Some(format!("`{name}` with `{tag}` `{value}`."));
        variants.push((
            value.clone(),
            format!("{}{name}", pascal_case(value)),
            merged,
        ));
    }
    let mut one = OneOf::new();
    one.description = all.description.clone();
    let mut mapping = BTreeMap::new();
    for (value, variant, merged) in variants {
        one.items.push(Ref::from_schema_name(&variant).into());
        mapping.insert(value, format!("{COMPONENT}{variant}"));
        components
            .schemas
            .insert(variant, Schema::Object(merged).into());
    }
    one.discriminator = Some(discriminator(tag, mapping));
    components
        .schemas
        .insert(name.to_string(), Schema::OneOf(one).into());
}

/// The discriminated union `item` names.
fn union_of<'a>(components: &'a Components, item: &RefOr<Schema>) -> Option<&'a OneOf> {
    let RefOr::Ref(r) = item else {
        return None;
    };
    match components
        .schemas
        .get(r.ref_location.strip_prefix(COMPONENT)?)?
    {
        RefOr::T(Schema::OneOf(one)) if one.discriminator.is_some() => Some(one),
        _ => None,
    }
}

fn discriminator(property: String, mapping: BTreeMap<String, String>) -> Discriminator {
    let mut discriminator = Discriminator::new(property);
    discriminator.mapping = mapping;
    discriminator
}

/// `google_pay` → `GooglePay`.
pub(super) fn pascal_case(value: &str) -> String {
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_type_names() {
        assert_eq!(pascal_case("google_pay"), "GooglePay");
        assert_eq!(pascal_case("card"), "Card");
        assert_eq!(pascal_case("payment_request"), "PaymentRequest");
    }
}
