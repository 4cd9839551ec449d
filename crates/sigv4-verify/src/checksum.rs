//! The flexible checksums S3 accepts in an aws-chunked trailer (`x-amz-checksum-<alg>:<base64>`).
//! S3's newer MD5 and XXHASH64/3/128 checksums are not among them: no SDK sends them by
//! default (botocore only with awscrt and when asked), and a trailer naming one is refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest;

use crate::error::{ErrorKind, VerifyError, shown};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
    Sha512,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 6] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Sha512,
    ];

    /// The header (and trailer) name, `x-amz-checksum-crc32` and so on.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
            ChecksumAlgorithm::Sha512 => "x-amz-checksum-sha512",
        }
    }

    /// The algorithm a header or trailer name stands for (any case).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }

    /// The checksum of `data` as S3 writes it: the big-endian digest bytes in base64.
    pub fn compute(self, data: &[u8]) -> String {
        match self {
            ChecksumAlgorithm::Crc32 => {
                STANDARD.encode(crc_fast::crc32_iso_hdlc(data).to_be_bytes())
            }
            ChecksumAlgorithm::Crc32c => STANDARD.encode(crc_fast::crc32_iscsi(data).to_be_bytes()),
            ChecksumAlgorithm::Crc64Nvme => {
                STANDARD.encode(crc_fast::crc64_nvme(data).to_be_bytes())
            }
            ChecksumAlgorithm::Sha1 => STANDARD.encode(sha1::Sha1::digest(data)),
            ChecksumAlgorithm::Sha256 => STANDARD.encode(sha2::Sha256::digest(data)),
            ChecksumAlgorithm::Sha512 => STANDARD.encode(sha2::Sha512::digest(data)),
        }
    }
}

/// A checksum the client sent and the verifier checked against the decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    /// The base64 value, as sent.
    pub value: String,
}

/// Checks `value` (base64) against `data`; compared on the decoded bytes so that only the
/// digest, not its spelling, decides.
pub(crate) fn verify(
    algorithm: ChecksumAlgorithm,
    value: &str,
    data: &[u8],
) -> Result<(), VerifyError> {
    let name = algorithm.header_name();
    let sent = STANDARD.decode(value.trim_matches(' ')).map_err(|_| {
        VerifyError::new(
            ErrorKind::BadDigest,
            format!("{name}: `{}` is not base64", shown(value)),
        )
    })?;
    let computed = algorithm.compute(data);
    let computed_bytes = STANDARD.decode(&computed).unwrap_or_default();
    if sent != computed_bytes {
        return Err(VerifyError::new(
            ErrorKind::BadDigest,
            format!(
                "{name}: `{}` does not match the body received (its checksum is `{computed}`); send the body unchanged",
                shown(value)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_checksums_of_hello_world() {
        // Values from the S3 user guide and the CRC catalogue's check values.
        let check = |a: ChecksumAlgorithm| a.compute(b"123456789");
        assert_eq!(
            STANDARD.decode(check(ChecksumAlgorithm::Crc32)).unwrap(),
            0xCBF4_3926u32.to_be_bytes()
        );
        assert_eq!(
            STANDARD.decode(check(ChecksumAlgorithm::Crc32c)).unwrap(),
            0xE306_9283u32.to_be_bytes()
        );
        assert_eq!(
            STANDARD
                .decode(check(ChecksumAlgorithm::Crc64Nvme))
                .unwrap(),
            0xAE8B_1486_0A79_9888u64.to_be_bytes()
        );
        assert_eq!(
            ChecksumAlgorithm::Sha1.compute(b"abc"),
            "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
        );
        assert_eq!(
            ChecksumAlgorithm::Sha256.compute(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert!(
            verify(
                ChecksumAlgorithm::Crc32,
                &check(ChecksumAlgorithm::Crc32),
                b"123456789"
            )
            .is_ok()
        );
        let e = verify(ChecksumAlgorithm::Crc32, "AAAAAA==", b"123456789").unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadDigest);
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC32C"),
            Some(ChecksumAlgorithm::Crc32c)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-algorithm"),
            None
        );
    }
}
