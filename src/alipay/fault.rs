//! Faults: deliberate mistakes applied while making an otherwise correct envelope, each with
//! the verdict a strict backend must reach.
//!
//! Spec §7 lists what the official SDKs conclude for most of them. The four encoding faults
//! (truncated base64, URL-safe base64, non-zero IV, broken padding) are signed over the faulty
//! ciphertext, so that the signature checks out and the backend's decryption path is what gets
//! tested; a change after signing is the same, for a backend, as a flipped ciphertext byte.

use serde::{Deserialize, Serialize};

use crate::oracle::{Cause, Rule, Verdict};

/// Where the faults are documented, as a cause's source.
const SOURCE: &str = "fault catalogue (README, Faults)";

/// The faults, each named once: its variant, its name in scenario files, the CLI and the API,
/// what it needs, the verdict it calls for, and what it does.
macro_rules! faults {
    ($($variant:ident = $name:tt, $needs:ident, $verdict:expr, $description:literal;)*) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            Serialize,
            Deserialize,
            utoipa::ToSchema,
            strum::EnumIter,
        )]
        pub enum Fault {
            $(#[serde(rename = $name)] $variant,)*
        }

        /// Each fault's facts, in the order of [`Fault`]'s variants.
        static FAULTS: &[FaultInfo] = &[$(FaultInfo {
            name: $name,
            needs: Needs::$needs,
            verdict: {
                #[allow(unused_imports)]
                use Verdict::*;
                $verdict
            },
            cause: Rule { id: concat!("fault.", $name), summary: $description, source: SOURCE },
        }),*];
    };
}

faults! {
    FlipCiphertextByte = "flip-ciphertext-byte", EncryptedSigned, Some(RejectSignature),
        "one ciphertext byte flipped after signing (spec §7)";
    FlipSignatureByte = "flip-signature-byte", Signed, Some(RejectSignature),
        "one signature byte flipped (spec §7)";
    WrongSigningKey = "wrong-signing-key", Signed, Some(RejectSignature),
        "signed with a key other than the published Alipay public key's (spec §7)";
    SignBareCiphertext = "sign-bare-ciphertext", EncryptedSigned, Some(RejectSignature),
        "signature over the bare ciphertext, without its double quotes (spec §7)";
    Sha1UnderRsa2 = "sha1-under-rsa2", Rsa2Signed, Some(RejectSignature),
        "SHA-1 signature for an RSA2 app; the Python SDK accepts it (spec §7)";
    MissingSign = "missing-sign", Signed, Some(Unsigned),
        "the sign field removed (spec §7)";
    WrongAesKey = "wrong-aes-key", EncryptedSigned, Some(RejectDecrypt),
        "encrypted with another AES key, then signed correctly (spec §7)";
    ReorderPlainObject = "reorder-plain-object", PlainSigned, Some(RejectSignature),
        "the plain response object's keys reordered after signing (spec §7)";
    SwapEnvelopeKeys = "swap-envelope-keys", Encrypted, None,
        "sign before response in the envelope; harmless (spec §7)";
    PrettyPrintEnvelope = "pretty-print-envelope", Encrypted, None,
        "the envelope pretty-printed over several lines; harmless (spec §7)";
    ExtraFields = "extra-fields", Encrypted, None,
        "the doc example's extra sign_type, encrypt_type and charset fields; harmless (spec §2, §7)";
    Aes256Key = "aes-256-key", EncryptedSigned, None,
        "a 32-byte AES-256 key; valid, but breaks backends hard-coding aes-128-cbc (spec §7)";
    TruncatedBase64 = "truncated-base64", EncryptedSigned, Some(RejectDecrypt),
        "the ciphertext's last five base64 characters cut off, signed as cut";
    UrlSafeBase64 = "url-safe-base64", EncryptedSigned, Some(RejectDecrypt),
        "the ciphertext in URL-safe base64 ('-' and '_'), signed as such";
    NonZeroIv = "non-zero-iv", EncryptedSigned, Some(RejectDecrypt),
        "encrypted with the AES key as IV instead of 16 zero bytes, signed correctly";
    BrokenPadding = "broken-padding", EncryptedSigned, Some(RejectDecrypt),
        "zero-byte padding instead of PKCS#7, signed correctly";
    StaleAesKey = "stale-aes-key", ReplacedAesKey, Some(RejectDecrypt),
        "the backend holds the merchant AES key from before the ISV's last alipay.open.auth.app.aes.set (spec §4.1)";
    NonJsonText = "non-json-text", Envelope, Some(RejectParse),
        "the front end sent String(res) (\"[object Object]\") instead of res.response";
}

/// One row of the fault table.
struct FaultInfo {
    name: &'static str,
    needs: Needs,
    verdict: Option<Verdict>,
    /// The fault as the oracle names it: `fault.<name>`, with its description.
    cause: Rule,
}

/// What kind of envelope a fault needs in order to mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Any envelope.
    Envelope,
    /// A signed envelope.
    Signed,
    /// An encrypted envelope, signed or not.
    Encrypted,
    /// An encrypted, signed envelope.
    EncryptedSigned,
    /// A plain, signed envelope.
    PlainSigned,
    /// An envelope signed with RSA2.
    Rsa2Signed,
    /// An encrypted, signed envelope of an ISV's merchant whose AES key was set more than once.
    ReplacedAesKey,
}

impl Needs {
    pub fn describe(self) -> &'static str {
        match self {
            Needs::Envelope => "an envelope",
            Needs::Signed => "a signed envelope",
            Needs::Encrypted => "an encrypted envelope",
            Needs::EncryptedSigned => "an encrypted, signed envelope",
            Needs::PlainSigned => "a plain (unencrypted), signed envelope",
            Needs::Rsa2Signed => "an envelope signed with RSA2",
            Needs::ReplacedAesKey => {
                "an encrypted, signed envelope of an ISV app whose AES key was set again \
                 (console.isv.aes_key_sets 2 or more)"
            }
        }
    }
}

impl Fault {
    fn info(self) -> &'static FaultInfo {
        &FAULTS[self as usize]
    }

    /// The kebab-case name used in scenario files, the CLI and the API.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The fault as the oracle records it: `fault.<name>`, with its description.
    pub fn cause(self) -> Cause {
        Cause::Fault(&self.info().cause)
    }

    /// One line: what was done to the envelope.
    pub fn description(self) -> &'static str {
        self.info().cause.summary
    }

    pub fn needs(self) -> Needs {
        self.info().needs
    }

    /// The verdict for an envelope that the fault actually changed; `None` when the fault
    /// leaves the verdict of the correct envelope as it was (layout changes, AES-256).
    pub fn verdict(self) -> Option<Verdict> {
        self.info().verdict
    }
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        use strum::IntoEnumIterator;
        Fault::iter().find(|f| f.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Fault::iter().map(Fault::name).collect();
            format!("unknown fault {name:?}; known faults: {}", names.join(", "))
        })
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        use strum::IntoEnumIterator;
        assert_eq!(Fault::iter().count(), FAULTS.len());
        for fault in Fault::iter() {
            let json = serde_json::to_value(fault).unwrap();
            assert_eq!(json, fault.name());
            assert_eq!(fault.name().parse::<Fault>(), Ok(fault));
            assert_eq!(fault.cause().id(), format!("fault.{}", fault.name()));
        }
        assert!("flip"
            .parse::<Fault>()
            .unwrap_err()
            .contains("flip-ciphertext-byte"));
    }
}
