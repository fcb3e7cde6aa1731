//! Faults: deliberate mistakes applied while making an otherwise correct envelope, each with
//! the verdict a strict backend must reach.
//!
//! Spec §7 lists what the official SDKs conclude for most of them. The four encoding faults
//! (truncated base64, URL-safe base64, non-zero IV, broken padding) are signed over the faulty
//! ciphertext, so that the signature checks out and the backend's decryption path is what gets
//! tested; a change after signing is the same, for a backend, as a flipped ciphertext byte.

use serde::{Deserialize, Serialize};

use crate::oracle::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    FlipCiphertextByte,
    FlipSignatureByte,
    WrongSigningKey,
    SignBareCiphertext,
    Sha1UnderRsa2,
    MissingSign,
    WrongAesKey,
    ReorderPlainObject,
    SwapEnvelopeKeys,
    PrettyPrintEnvelope,
    ExtraFields,
    #[serde(rename = "aes-256-key")]
    Aes256Key,
    TruncatedBase64,
    UrlSafeBase64,
    NonZeroIv,
    BrokenPadding,
    NonJsonText,
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
        }
    }
}

impl Fault {
    pub const ALL: [Fault; 17] = [
        Fault::FlipCiphertextByte,
        Fault::FlipSignatureByte,
        Fault::WrongSigningKey,
        Fault::SignBareCiphertext,
        Fault::Sha1UnderRsa2,
        Fault::MissingSign,
        Fault::WrongAesKey,
        Fault::ReorderPlainObject,
        Fault::SwapEnvelopeKeys,
        Fault::PrettyPrintEnvelope,
        Fault::ExtraFields,
        Fault::Aes256Key,
        Fault::TruncatedBase64,
        Fault::UrlSafeBase64,
        Fault::NonZeroIv,
        Fault::BrokenPadding,
        Fault::NonJsonText,
    ];

    /// The kebab-case name used in scenario files, the CLI and the API.
    pub fn name(self) -> &'static str {
        self.info().0
    }

    /// The rule id recorded in the oracle: `fault.<name>`.
    pub fn rule_id(self) -> String {
        format!("fault.{}", self.name())
    }

    /// One line: what was done to the envelope.
    pub fn description(self) -> &'static str {
        self.info().1
    }

    pub fn needs(self) -> Needs {
        self.info().2
    }

    /// The verdict for an envelope that the fault actually changed; `None` when the fault
    /// leaves the verdict of the correct envelope as it was (layout changes, AES-256).
    pub fn verdict(self) -> Option<Verdict> {
        self.info().3
    }

    fn info(self) -> (&'static str, &'static str, Needs, Option<Verdict>) {
        use Needs::*;
        use Verdict::*;
        match self {
            Fault::FlipCiphertextByte => ("flip-ciphertext-byte",
                "one ciphertext byte flipped after signing (spec §7)", EncryptedSigned, Some(RejectSignature)),
            Fault::FlipSignatureByte => ("flip-signature-byte",
                "one signature byte flipped (spec §7)", Signed, Some(RejectSignature)),
            Fault::WrongSigningKey => ("wrong-signing-key",
                "signed with a key other than the published Alipay public key's (spec §7)", Signed, Some(RejectSignature)),
            Fault::SignBareCiphertext => ("sign-bare-ciphertext",
                "signature over the bare ciphertext, without its double quotes (spec §7)", EncryptedSigned, Some(RejectSignature)),
            Fault::Sha1UnderRsa2 => ("sha1-under-rsa2",
                "SHA-1 signature for an RSA2 app; the Python SDK accepts it (spec §7)", Rsa2Signed, Some(RejectSignature)),
            Fault::MissingSign => ("missing-sign",
                "the sign field removed (spec §7)", Signed, Some(Unsigned)),
            Fault::WrongAesKey => ("wrong-aes-key",
                "encrypted with another AES key, then signed correctly (spec §7)", EncryptedSigned, Some(RejectDecrypt)),
            Fault::ReorderPlainObject => ("reorder-plain-object",
                "the plain response object's keys reordered after signing (spec §7)", PlainSigned, Some(RejectSignature)),
            Fault::SwapEnvelopeKeys => ("swap-envelope-keys",
                "sign before response in the envelope; harmless (spec §7)", Encrypted, None),
            Fault::PrettyPrintEnvelope => ("pretty-print-envelope",
                "the envelope pretty-printed over several lines; harmless (spec §7)", Encrypted, None),
            Fault::ExtraFields => ("extra-fields",
                "the doc example's extra sign_type, encrypt_type and charset fields; harmless (spec §2, §7)", Encrypted, None),
            Fault::Aes256Key => ("aes-256-key",
                "a 32-byte AES-256 key; valid, but breaks backends hard-coding aes-128-cbc (spec §7)", EncryptedSigned, None),
            Fault::TruncatedBase64 => ("truncated-base64",
                "the ciphertext's last five base64 characters cut off, signed as cut", EncryptedSigned, Some(RejectDecrypt)),
            Fault::UrlSafeBase64 => ("url-safe-base64",
                "the ciphertext in URL-safe base64 ('-' and '_'), signed as such", EncryptedSigned, Some(RejectDecrypt)),
            Fault::NonZeroIv => ("non-zero-iv",
                "encrypted with the AES key as IV instead of 16 zero bytes, signed correctly", EncryptedSigned, Some(RejectDecrypt)),
            Fault::BrokenPadding => ("broken-padding",
                "zero-byte padding instead of PKCS#7, signed correctly", EncryptedSigned, Some(RejectDecrypt)),
            Fault::NonJsonText => ("non-json-text",
                "the front end sent String(res) (\"[object Object]\") instead of res.response", Envelope, Some(RejectParse)),
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
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
        for fault in Fault::ALL {
            let json = serde_json::to_value(fault).unwrap();
            assert_eq!(json, fault.name());
            assert_eq!(fault.name().parse::<Fault>(), Ok(fault));
        }
        assert!("flip"
            .parse::<Fault>()
            .unwrap_err()
            .contains("flip-ciphertext-byte"));
    }
}
