//! The macro that turns the one table of key declarations in `keys.rs` into the `Config` struct, its
//! `Default`, `KEYS`, the per-key apply and reset, and the descriptors the generated settings come from.
//!
//! Before it, each key was written out in five places in the Rust source alone, plus package.json and
//! docs/protocol.md by hand; a key added in one place and forgotten in another only showed up when a
//! regex parser of the Rust source, run from the VS Code extension's tests, noticed.

/// Declares the settings struct from one entry per key:
///
/// ```text
/// field_name: FieldType {
///     key: "dotted.key",
///     default: <expression of FieldType>,
///     rule: <the FieldType's SettingValue::Rule: int(1, 10), num(0.0, 1.0), Flag, Choice, Text {..}>,
///     scope: MachineOverridable,   // optional, VS Code's scope; Resource when left out
///     doc: "What it does, one or two sentences of Markdown, for every reader.",
///     vscode: "More for VS Code's settings UI only.",          // optional
///     protocol: "More for docs/protocol.md's table only.",     // optional
/// }
/// ```
macro_rules! config_keys {
    (@scope) => { $crate::config::schema::Scope::Resource };
    (@scope $scope:ident) => { $crate::config::schema::Scope::$scope };
    (@optional) => { None };
    (@optional $text:literal) => { Some($text) };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $field:ident: $ty:ty {
                    key: $key:literal,
                    default: $default:expr,
                    rule: $rule:expr,
                    $(scope: $scope:ident,)?
                    doc: $doc:literal,
                    $(vscode: $vscode:literal,)?
                    $(protocol: $protocol:literal,)?
                }
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                #[doc = concat!("`", $key, "`: ", $doc)]
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $($field: $default,)*
                }
            }
        }

        /// Every key `apply` understands, dotted, without the `rill.` prefix.
        pub const KEYS: [&str; [$($key),*].len()] = [$($key),*];

        impl $name {
            /// Validates and stores one known key; on error nothing changes and the reason is returned.
            /// `null` puts the key back to its default.
            pub(super) fn apply_key(
                &mut self,
                key: &str,
                value: &serde_json::Value,
            ) -> Result<(), String> {
                use $crate::config::values::SettingValue;
                if value.is_null() {
                    self.reset_key(key);
                    return Ok(());
                }
                match key {
                    $($key => self.$field = <$ty as SettingValue>::parse(&$rule, value)?,)*
                    // Unreachable through `apply_object`, which only passes keys from `KEYS`; ignoring
                    // is the safe answer should that ever change.
                    _ => {}
                }
                Ok(())
            }

            /// Puts one key back to its default value.
            fn reset_key(&mut self, key: &str) {
                let defaults = Self::default();
                match key {
                    $($key => self.$field = defaults.$field,)*
                    _ => {}
                }
            }
        }

        /// Every key as the generated settings describe it, in declaration order.
        pub(super) fn descriptors() -> Vec<$crate::config::schema::Descriptor> {
            use $crate::config::values::SettingValue;
            let defaults = $name::default();
            vec![$(
                $crate::config::schema::Descriptor {
                    key: $key,
                    doc: $doc,
                    vscode: config_keys!(@optional $($vscode)?),
                    protocol: config_keys!(@optional $($protocol)?),
                    scope: config_keys!(@scope $($scope)?),
                    shape: <$ty as SettingValue>::shape(&$rule, &defaults.$field),
                },
            )*]
        }
    };
}
