//! The shared shape of validated text values (references, URLs, slugs…): once parsed they are
//! read back from our own database unchecked, shown as-is and serialized as plain strings.

/// Adds `from_trusted`, `as_str`, `Display` and `Serialize` to a `struct $name(String)`.
macro_rules! string_newtype_impls {
    ($name:ident) => {
        impl $name {
            /// For values read back from our own database; no check.
            pub fn from_trusted(s: String) -> Self {
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}
