//! Two-factor sign-in's server side (docs/api.md §9): sealing a user's TOTP secret with the
//! vault key, turning a typed code into the [`SecondFactor`] the store spends once, and the QR
//! code of the otpauth URI as inline SVG. The rules are `kassa_core::two_factor`.

use kassa_core::secret::Secret;
use kassa_core::two_factor::{self, EnteredCode};
use kassa_store::{SealedTotp, SecondFactor, User};

use crate::state::AppState;

/// What the vault binds a stored secret to (with the partner), so it opens for this user only.
fn stored_owner(user: &User) -> String {
    stored_owner_of(user.id.as_str())
}

/// [`stored_owner`] by the user's id (a vault key rotation seals the secret again).
pub(crate) fn stored_owner_of(user_id: &str) -> String {
    format!("totp/{user_id}")
}

/// What the vault binds a secret being set up to: it travels in the enrolment form.
fn setup_owner(user: &User) -> String {
    format!("totp-setup/{}", user.id)
}

/// The secret sealed for storage.
pub fn seal(state: &AppState, user: &User, secret: &[u8]) -> SealedTotp {
    let (nonce, sealed) = state
        .vault
        .seal_for(&user.partner_id, &stored_owner(user), secret);
    SealedTotp {
        nonce,
        secret: sealed,
        last_step: None,
    }
}

/// The secret being set up, sealed into a form field (`nonce.ciphertext`, hex): the page
/// shows the secret itself anyway, and the field opens for this user only.
pub fn seal_setup(state: &AppState, user: &User, secret: &[u8]) -> String {
    let (nonce, sealed) = state
        .vault
        .seal_for(&user.partner_id, &setup_owner(user), secret);
    format!("{}.{}", hex::encode(nonce), hex::encode(sealed))
}

/// Opens what [`seal_setup`] made; None when it was not made for this user (or is garbage).
pub fn open_setup(state: &AppState, user: &User, field: &str) -> Option<Secret<Vec<u8>>> {
    let (nonce, sealed) = field.split_once('.')?;
    let (nonce, sealed) = (hex::decode(nonce).ok()?, hex::decode(sealed).ok()?);
    state
        .vault
        .open_for(&user.partner_id, &setup_owner(user), &nonce, &sealed)
        .ok()
}

/// The second factor a typed code proves for `user` (whose sealed secret is `stored`), for the
/// store to spend: a TOTP code must match a step near now that was not used yet; a recovery
/// code is only hashed (the store knows whether it is unused). None: not a valid code.
pub fn factor_for(
    state: &AppState,
    user: &User,
    stored: &SealedTotp,
    entered: &EnteredCode,
) -> Option<SecondFactor> {
    match entered {
        EnteredCode::Totp(code) => {
            let secret = state
                .vault
                .open_for(
                    &user.partner_id,
                    &stored_owner(user),
                    &stored.nonce,
                    &stored.secret,
                )
                .ok()?;
            let now = state.clock.now().unix_timestamp();
            two_factor::matching_step(secret.expose(), code, now, stored.last_step)
                .map(|step| SecondFactor::Totp { step })
        }
        EnteredCode::Recovery(code) => Some(SecondFactor::RecoveryCode {
            hash: two_factor::recovery_code_hash(user.id.as_str(), code.expose()),
        }),
    }
}

/// The QR code of `uri` as an SVG element to put in a page (no script, no style attribute, so
/// the pages' CSP stays as strict as it is).
pub fn qr_svg(uri: &str) -> String {
    let code = qrcode::QrCode::new(uri.as_bytes()).expect("an otpauth URI fits in a QR code");
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The XML declaration does not belong inside HTML.
    match svg.find("<svg") {
        Some(start) => svg[start..].to_string(),
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::qr_svg;

    #[test]
    fn the_qr_code_is_a_bare_svg_element() {
        let svg = qr_svg("otpauth://totp/Kassa:a%40b.example?secret=GEZDGNBVGY3TQOJQ");
        assert!(svg.starts_with("<svg"), "{svg:.40}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<script") && !svg.contains("style="));
    }
}
