//! Plain words for every outcome, reason and error code the pages and the scanner show: one
//! table, so a person never reads `no_match` and the same code always reads the same way.

/// `(code, plain words)`. Outcomes and reasons of identifications, capture-quality refusals of
/// the engine, and the API refusals a page can meet.
const WORDS: &[(&str, &str)] = &[
    // Purposes.
    ("payment", "Pay"),
    ("entry", "Open a door"),
    ("loyalty", "Show the loyalty card"),
    ("age", "Prove age"),
    // Outcomes of an identification.
    ("authorized", "Payment authorized"),
    ("declined", "Payment declined"),
    ("granted", "Door opens"),
    ("denied", "Entry denied"),
    ("linked", "Loyalty card found"),
    ("not_linked", "No loyalty card linked at this store"),
    ("verified", "Age checked"),
    ("not_verified", "Age not known for this person"),
    ("no_consent", "Recognised, but the person has not agreed to this use"),
    ("no_match", "Palm not recognised"),
    // Reasons given with an outcome.
    ("no_card", "no card is linked"),
    ("card_declined", "the bank declined the card"),
    ("insufficient_funds", "not enough money on the card"),
    ("amount_too_large", "the amount is too large"),
    ("no_badge", "no badge at this store"),
    // Capture quality (the engine's refusals).
    ("bad_image", "The picture could not be read as an image."),
    ("no_image", "No picture was sent."),
    ("no_hand", "No hand was seen. Hold the open palm over the scanner."),
    ("hand_too_far", "The hand is too far away. Move it closer."),
    ("hand_too_close", "The hand is too close. Move it a little further away."),
    ("partial_hand", "Only part of the hand was seen. Centre the whole palm."),
    ("blurred", "The picture is blurred. Hold the hand still."),
    ("overexposed", "The picture is too bright."),
    ("underexposed", "The picture is too dark."),
    ("palm_tilted", "The palm is tilted. Hold it flat, facing the scanner."),
    ("no_valleys", "The fingers could not be found. Spread the fingers a little."),
    ("low_contrast", "The palm lines are too faint. Try again."),
    ("template_invalid", "The palm could not be measured. Try again."),
    // Refusals of the API that a page shows.
    ("bad_phone", "Write the phone number in international form: + and the country code, e.g. +41 79 123 45 67."),
    ("invalid_code", "That code is wrong or has expired. Check it, or ask for a new code."),
    ("invalid_activation_code", "That activation code is unknown, already used or expired. Ask for a new one in the console."),
    ("rate_limited", "Too many tries. Wait a few minutes, then try again."),
    ("duplicate_palm", "This palm is already enrolled for another person, so it was not enrolled again."),
    ("not_enough_captures", "More photos of the palm are needed before finishing."),
    ("no_captures", "Take at least one photo of the palm before finishing."),
    ("enough_captures", "This hand has enough photos; finish the enrolment."),
    ("phone_not_verified", "Confirm the phone code first."),
    ("bad_card", "The card was refused: check the number as printed on the card, and the expiry date."),
    ("bad_name", "A name has 1 to 200 characters, not only spaces."),
    ("bad_currency", "The currency is three letters, like EUR or CHF."),
    ("bad_amount", "The amount must be a positive number like 12.50."),
    ("bad_birth_date", "The birth date must be a real date."),
    ("no_session", "Sign in first."),
    ("session_expired", "You were signed out. Sign in again."),
    ("device_revoked", "This scanner was switched off in the console. Activate it again."),
    ("device_not_activated", "This scanner is not activated yet."),
];

/// The purposes a person can allow: code, short label, and what it means in plain words (shown
/// beside each consent box at the kiosk and in My palm).
pub(crate) const PURPOSES: [(&str, &str, &str); 4] = [
    (
        "payment",
        "Pay",
        "Hovering at a till pays with the card you add, for the amount the till shows.",
    ),
    (
        "entry",
        "Open doors",
        "Hovering at a door of this store opens it if you hold a badge here.",
    ),
    (
        "loyalty",
        "Show the loyalty card",
        "Hovering shows the store your loyalty number at that store, nothing else.",
    ),
    (
        "age",
        "Prove age",
        "Hovering answers only “over 18” and “over 21” yes or no; your birth date is never shown.",
    ),
];

/// The plain words of a code, if it has them.
pub(crate) fn words(code: &str) -> Option<&'static str> {
    WORDS.iter().find(|(c, _)| *c == code).map(|(_, w)| *w)
}

/// The plain words of a code, or the code itself for one the table does not know yet.
pub(crate) fn say(code: &str) -> &str {
    words(code).unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every outcome and reason the identify use case writes has plain words.
    #[test]
    fn every_outcome_and_reason_has_words() {
        let outcomes = [
            "authorized",
            "declined",
            "granted",
            "denied",
            "linked",
            "not_linked",
            "verified",
            "not_verified",
            "no_consent",
            "no_match",
        ];
        let reasons = [
            "no_card",
            "card_declined",
            "insufficient_funds",
            "amount_too_large",
            "no_badge",
        ];
        for c in outcomes.iter().chain(&reasons) {
            let w = words(c).unwrap_or_else(|| panic!("{c} has no plain words"));
            assert!(!w.contains('_'), "{c}: {w}");
        }
        assert_eq!(say("something_new"), "something_new");
    }

    #[test]
    fn every_quality_code_of_the_engine_has_words() {
        for c in [
            "bad_image",
            "no_hand",
            "hand_too_far",
            "hand_too_close",
            "partial_hand",
            "blurred",
            "overexposed",
            "underexposed",
            "palm_tilted",
            "no_valleys",
            "low_contrast",
        ] {
            assert!(words(c).is_some(), "{c}");
        }
    }

    #[test]
    fn codes_are_unique() {
        for (i, (c, _)) in WORDS.iter().enumerate() {
            assert!(
                !WORDS[i + 1..].iter().any(|(d, _)| d == c),
                "{c} twice in the table"
            );
        }
    }
}
