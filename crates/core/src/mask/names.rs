//! Which member names hold secrets. AWS names members in CamelCase compounds whose last word
//! says what the value is (`PasswordLastUsed` is a date, `SecretArn` an ARN, `NextToken` a
//! page cursor), so the rule reads the words of a name rather than looking for substrings.

/// Names that are secret whatever their words say (compared without case and separators).
const ALWAYS: [&str; 5] = [
    "keymaterial",    // kms:ImportKeyMaterial, the key itself
    "ssecustomerkey", // S3 SSE-C keys
    "copysourcessecustomerkey",
    "secretbinary", // explicit, though the word rule finds it too
    "passworddata", // ec2:GetPasswordData
];

/// Names the word rule would flag that hold no secret: they are needed in clear (DNS records
/// to create, a struct of ARNs).
const NEVER: [&str; 3] = [
    "verificationtoken", // SES: the TXT record to publish
    "dkimtokens",        // SES: the CNAME records to publish
    "masterusersecret",  // RDS: {SecretArn, SecretStatus, KmsKeyId}
];

/// A last word that names a secret by itself.
const SECRET_HEADS: [&str; 14] = [
    "password",
    "passwords",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "apikey",
    "plaintext",
    "authorization",
];

/// A last word that carries whatever the words before it name: `SecretString`,
/// `PrivateKey`, `TokenValue`, `PasswordHash`.
const CARRIERS: [&str; 14] = [
    "key", "keys", "value", "values", "string", "binary", "data", "material", "text", "blob",
    "bytes", "hash", "pem", "body",
];

/// Words before a carrier that make it secret.
const SECRET_MODIFIERS: [&str; 8] = [
    "password",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
    "private",
    "auth",
];

/// First words of tokens that are cursors or idempotency keys, not credentials: paging must
/// keep working (`NextToken`, `ContinuationToken`, `ClientRequestToken`, `NextForwardToken`).
const CURSOR_FIRST_WORDS: [&str; 20] = [
    "next",
    "prev",
    "previous",
    "pagination",
    "page",
    "continuation",
    "continue",
    "starting",
    "start",
    "client",
    "idempotency",
    "request",
    "sequence",
    "upload",
    "resume",
    "change",
    "sync",
    "forward",
    "backward",
    "cursor",
];

/// Whether a member (or map key) named `name` holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let words = words(name);
    let joined: String = words.concat();
    if ALWAYS.contains(&joined.as_str()) {
        return true;
    }
    if NEVER.contains(&joined.as_str()) {
        return false;
    }
    let Some((head, before)) = words.split_last() else {
        return false;
    };
    let head = head.as_str();
    if head == "token" || head == "tokens" {
        return !before
            .first()
            .is_some_and(|w| CURSOR_FIRST_WORDS.contains(&w.as_str()));
    }
    if SECRET_HEADS.contains(&head) {
        return true;
    }
    // `API_KEY`, `STRIPE_KEY`: in environment-variable spelling a key is a secret, while AWS
    // members ending in `Key` (`Key`, `PartitionKey`, `TagKey`) name things.
    if (head == "key" || head == "keys") && !name.bytes().any(|b| b.is_ascii_lowercase()) {
        return true;
    }
    if CARRIERS.contains(&head) {
        // `ApiKey`, `api_key`, `APIKeyValue`.
        let api_key = (head == "key" || head == "keys")
            && before.last().is_some_and(|w| w == "api")
            || before.windows(2).any(|w| w[0] == "api" && w[1] == "key");
        return api_key
            || before
                .iter()
                .any(|w| SECRET_MODIFIERS.contains(&w.as_str()));
    }
    false
}

/// The lower-case words of a name: split at separators, at lower-to-upper changes and
/// before the last capital of an acronym (`DBPassword` → db, password; `SSEKMSKeyId` → ssekms,
/// key, id). `APIKey`/`ApiKey`/`api_key` all give api, key.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = chunk.chars().collect();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) => {
                    (c.is_ascii_uppercase() && (p.is_ascii_lowercase() || p.is_ascii_digit()))
                        || (c.is_ascii_uppercase()
                            && p.is_ascii_uppercase()
                            && next.is_some_and(|n| n.is_ascii_lowercase()))
                }
            };
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c.to_ascii_lowercase());
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_names() {
        assert_eq!(words("DBPassword"), ["db", "password"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(
            words("KAFKA_SASL_SCRAM_PASSWORD"),
            ["kafka", "sasl", "scram", "password"]
        );
        assert_eq!(words("nextForwardToken"), ["next", "forward", "token"]);
        assert_eq!(words("SSEKMSKeyId"), ["ssekms", "key", "id"]);
        assert_eq!(words("/db/password"), ["db", "password"]);
    }

    #[test]
    fn secrets_by_name() {
        for n in [
            "Password",
            "MasterUserPassword",
            "NewPassword",
            "DbPassword",
            "dbPassword",
            "ServicePassword",
            "RandomPassword",
            "PasswordData",
            "ENCRYPTED_PASSWORD",
            "KAFKA_SSL_CLIENT_KEY_PASSWORD",
            "DB_PASSWORD",
            "passphrase",
            "SecretString",
            "SecretBinary",
            "SecretAccessKey",
            "ClientSecret",
            "SharedSecret",
            "ServiceCredentialSecret",
            "SecretHash",
            "SessionToken",
            "AccessToken",
            "RefreshToken",
            "IdToken",
            "authorizationToken",
            "AuthorizationToken",
            "TaskToken",
            "Token",
            "TokenValue",
            "AuthToken",
            "api_key",
            "apiKey",
            "ApiKeyValue",
            "x-api-key",
            "PrivateKey",
            "private_key",
            "privateKey",
            "CertificatePrivateKey",
            "PrivateKeyPlaintext",
            "Plaintext",
            "KeyMaterial",
            "SSECustomerKey",
            "Credentials",
            "basicAuthCredentials",
            "Authorization",
            "TOLLGATE_LINK_KEY",
            "STRIPE_KEY",
        ] {
            assert!(is_secret_name(n), "{n} should be secret");
        }
    }

    #[test]
    fn look_alikes_are_not_secrets() {
        for n in [
            "NextToken",
            "nextToken",
            "PaginationToken",
            "ContinuationToken",
            "NextContinuationToken",
            "StartingToken",
            "ClientToken",
            "ClientRequestToken",
            "IdempotencyToken",
            "NextForwardToken",
            "nextBackwardToken",
            "SequenceToken",
            "UploadSequenceToken",
            "ChangeToken",
            "NextPageToken",
            "TokenType",
            "SecretArn",
            "SecretId",
            "SecretName",
            "SecretList",
            "SecretVersionsToStages",
            "SecretsManagerSecretId",
            "KeyId",
            "KmsKeyId",
            "AccessKeyId",
            "PasswordLastUsed",
            "PasswordResetRequired",
            "PasswordPolicy",
            "MinimumPasswordLength",
            "MasterUserSecret",
            "PublicKey",
            "PublicKeyMaterial",
            "SshPublicKeyBody",
            "ApiKeySource",
            "apiKeyRequired",
            "CredentialReport",
            "CredentialsArn",
            "VerificationToken",
            "DkimTokens",
            "TableName",
            "LastEvaluatedKey",
            "ExclusiveStartKey",
            "Key",
            "TagKey",
            "PartitionKey",
            "Value",
            "AuthType",
            "",
        ] {
            assert!(!is_secret_name(n), "{n} should not be secret");
        }
    }
}
