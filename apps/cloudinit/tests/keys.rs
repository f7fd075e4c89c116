//! Real keys made by ssh-keygen, with the fingerprints `ssh-keygen -lf`
//! printed for them (OpenSSH 9.2p1). The two sk- keys were assembled from
//! the ed25519 and nistp256 keys' public parts with application "ssh:" (no
//! FIDO token here); ssh-keygen -lf accepted and fingerprinted them. A second
//! test runs ssh-keygen itself on freshly generated keys of every type.

use cloudinit::sshkey;

const KEYS: [(&str, &str, u32); 9] = [
    (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEnvP/nGCmK5aDXSbxz5xWwD5g6Q+t+cg0jftODORkTI test@ed25519",
        "SHA256:N5qg9+xayv/kw7in0Cr+k5CblB9wQS/srchPq9BXrCQ",
        256,
    ),
    (
        "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBPfobaQ18Dg0b0gnJPddu3pKKg4UuyRsPddRTS/A3iG8sZ8dx/HKm77G/ax1cjyAuRdtOCAz02oCwaIdA2HIKO13WofFSYykwP2AZgufIKIQBkcCIorsU0K66zhtXumLLg== test@ecdsa384",
        "SHA256:QgzJmchsYeZZE6In3IwhThIzb7kVJOz9nzdAqjj69t4",
        384,
    ),
    (
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDg/FkEcRSAhzgCvlkj9VRwJXS5/beV3Cyfv24QYIiLOEHJAyuHUhFAE3p010CVSeflHq1PcGtg8EkHIhyYNgqSsrxX7rUhl3Rfapn7zEBKspxUgrEotza4jW8nWdDeAZuYVpAe4syuQRF0+upMtPiKu+cbNu9aK6/qiVDNuDhF1cBGPWzv2EspueycEeGtNvEbwjDAwISuH4ZoY66+IgZ5pMN6r9aivN1RIsVaDIOnMBlzg/Dk4GF2B3rZmw1Nsdt/EJAuV6xkJy6vyeTvanqxeWJthcF7m6kLVxbaHEdb5fu/AuwlINZxC8RsLI7A8AwMBe3H9b3w3/2WSnOEMwj3 test@rsa",
        "SHA256:MPH5D4Ol2e9GYQkfiGC1QdPscj1GZyKH+SJK5zy2fAE",
        2048,
    ),
    (
        "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBABazPF/773J+KaPRCfeNZvxyqHRpuoeDsLw6VSWQA5skUHL8c29JZRv1E3uuWwhMCjFLWku4jTwyCy6mTC8Bof6XgCtReJbQpqzcsDrr8BmWNw3uAmPmIHVTDi2QoxG6Jxe2MJB6/Vc+L16raJv7SEyecl7nH8dk1kkZuH5J2HZ1bS28Q== test@ecdsa521",
        "SHA256:BeSHG4QzilFL5+FeZswXT8V1AZDkpfLYhThn42fIt8s",
        521,
    ),
    (
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBF0BGlirrVplJEwzFhi+XTAFN6mhuu9EmgIt1WpRL9w4E8D8OyMy48kUTf97anPdHdIZOEwDgm4RrSZVC3ud5Es= test@ecdsa256",
        "SHA256:ncHtTzcvWEzBkzCRUUfScz/9wBfVos9an45dc7Xpqeg",
        256,
    ),
    (
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCtjVyx4VKDjSNk0AaXvH42KALcfWhcEGhQUtmxTu/qon6XGnsDzQGmGazJN9R8Cd9BLCWJmCIAsiT/2NAT9bIVG3DXcTSetmvXt2AfVmnGA0nZBZ0DEXFu9WrAXH25F9JVvbY12TQN55lU6ZdO2afR9VSc081DXz+rkqBj2sapPQ== test@rsa1024",
        "SHA256:c4Jl9TXJyB1Qb8s8FVzBsBD9vVhww9qmryV6+rKH6Hk",
        1024,
    ),
    (
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQDWoCtPKVoEc3InkP/qR/J8lngCAiS4FK51QzKznCjX0eEMrXCRbayBk3ho9NTaOCn9TaACPDVhobN36JVR0L7RpBf+QlxCytTEXfbT/scUt8KvtFBjrpINW2DK5TOnpFGvV4/pWGrCC4dkn0QHpV139o8rQ4jhRec5ZlqPQOjMm8Y78LUCXKvqMTqYosGmE4lYTnp/uKZl/YVzIGxXLq5oMov7j1I+KxCjILfG0OcdKfpZ5T4NjeL2gaPD/gRXwgOzfBwBjw8E78AK9I5PeI22Wjb8ADKamrXHeV7fwNgOxQb7jVaIVAwQ++gQ3hN29vSDwPyGOKkybi7zg6lFfWgsnmbdI8mftVoCGN/VpCgSaPf+dSARMV/SdG/4LVBu0sliVnp5hCxNdfvy77EEHqQeALWHD6vT4ecd+i+FJv3mNaK4323L6s260SW1YziPxEmHm9ryY61tZAzifkV7YOCzVOiP60/JnswHvLzjQV8qRbC9OcyZfZVXRHEbbGvXjAAYGiYtJUwMmMXQpQcPMyKP5G2RvIYunqCzkF51lRqBiXZzqYYa4kYUgFf5/ZtD4oeb/oyaZo0tDyiIIpkTWNgAdslh9LPQ5lE7epGVbpeeI3QIsuDws4ES2IJQouoJt+i/gU4j4IkcFUNe9nEPNSbE1+pBpDdKlNe2wx2jZwuDJQ== test@rsa4096 with spaces",
        "SHA256:ureIfbQOZu1LS3SJnYrAatoBp71BnTGq2fIkDZK4BZo",
        4096,
    ),
    (
        "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIEnvP/nGCmK5aDXSbxz5xWwD5g6Q+t+cg0jftODORkTIAAAABHNzaDo= test@sk-ed25519",
        "SHA256:Xa01rUKPVPIIw2JgdwArUk8CxFwKk7ZCSyfAExvs+jM",
        256,
    ),
    (
        "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBF0BGlirrVplJEwzFhi+XTAFN6mhuu9EmgIt1WpRL9w4E8D8OyMy48kUTf97anPdHdIZOEwDgm4RrSZVC3ud5EsAAAAEc3NoOg== test@sk-ecdsa",
        "SHA256:BgCvZh045VFHdI/xfCvKoSQImpBzQ35nIwrrNCSRD6E",
        256,
    ),
];

#[test]
fn fingerprints_match_ssh_keygen() {
    for (line, fp, bits) in KEYS {
        let k = sshkey::parse(line).unwrap();
        assert_eq!(k.fingerprint(), fp, "{}", line);
        assert_eq!(k.bits(), bits);
        assert_eq!(k.line, line);
        assert!(k.comment.starts_with("test@"));
    }
}

#[test]
fn a_flipped_byte_is_caught() {
    let line = KEYS[0].0.replace("AAAAIEnv", "AAAAIEnw");
    let k = sshkey::parse(&line);
    // either still structurally valid (different fingerprint) or rejected
    assert!(k.is_err() || k.unwrap().fingerprint() != KEYS[0].1);
    let cut = &KEYS[1].0[..60];
    assert!(sshkey::parse(cut).is_err(), "truncated blob rejected");
}

/// Generate keys of every type with the ssh-keygen on this machine and
/// compare our fingerprint and size with what `ssh-keygen -lf` prints.
/// Set CLOUDINIT_NO_SSH_KEYGEN=1 to run without it (the fixed vectors above
/// still apply); otherwise a missing ssh-keygen fails the test.
#[test]
fn fresh_keys_match_ssh_keygen() {
    use std::process::Command;
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        assert!(
            std::env::var_os("CLOUDINIT_NO_SSH_KEYGEN").is_some(),
            "ssh-keygen not found (apt-get install openssh-client, or set CLOUDINIT_NO_SSH_KEYGEN=1)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("cloudinit-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kinds: [(&str, &str); 7] = [
        ("ed25519", ""),
        ("ecdsa", "256"),
        ("ecdsa", "384"),
        ("ecdsa", "521"),
        ("rsa", "1024"),
        ("rsa", "2048"),
        ("rsa", "3072"),
    ];
    for (i, (t, bits)) in kinds.iter().enumerate() {
        let path = dir.join(format!("k{}", i));
        let comment = format!("fresh {} {}", t, bits).trim().to_string();
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-t", t, "-N", "", "-C", &comment, "-f"])
            .arg(&path);
        if !bits.is_empty() {
            cmd.args(["-b", bits]);
        }
        assert!(
            cmd.status().unwrap().success(),
            "ssh-keygen -t {} failed",
            t
        );
        let pubfile = path.with_extension("pub");
        let line = std::fs::read_to_string(&pubfile).unwrap();
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(&pubfile)
            .output()
            .unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        let mut words = out.split_whitespace();
        let (want_bits, want_fp) = (words.next().unwrap(), words.next().unwrap());
        let k = sshkey::parse(&line).unwrap_or_else(|e| panic!("{}: {}", line, e));
        assert_eq!(k.fingerprint(), want_fp, "{}", line);
        assert_eq!(k.bits().to_string(), want_bits, "{}", line);
        assert_eq!(k.comment, comment);
        assert_eq!(k.line, line.trim_end());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Mutate the blobs of the fixed keys byte by byte: we accept exactly what
/// `ssh-keygen -lf` accepts (it validates curve points, RSA sizes, lengths),
/// and then agree on the fingerprint.
#[test]
fn agrees_with_ssh_keygen_on_mutated_keys() {
    use std::process::Command;
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        assert!(
            std::env::var_os("CLOUDINIT_NO_SSH_KEYGEN").is_some(),
            "ssh-keygen not found (apt-get install openssh-client, or set CLOUDINIT_NO_SSH_KEYGEN=1)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("cloudinit-mut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("k.pub");
    let (mut both_ok, mut both_err) = (0, 0);
    for (line, _, _) in KEYS {
        let mut words = line.split(' ');
        let kind = words.next().unwrap();
        let blob = sshkey::base64_decode(words.next().unwrap()).unwrap();
        // bytes in the type, the lengths, the key material and the end
        let n = blob.len();
        let spots = [3, 6, n / 3, n / 2, n - 40, n - 33, n - 5, n - 1];
        for &at in spots.iter() {
            let mut m = blob.clone();
            m[at] ^= 0x41;
            let text = format!("{} {} mutant", kind, sshkey::base64_encode(&m, true));
            std::fs::write(&file, format!("{}\n", text)).unwrap();
            let out = Command::new("ssh-keygen")
                .arg("-lf")
                .arg(&file)
                .output()
                .unwrap();
            let theirs = out
                .status
                .success()
                .then(|| String::from_utf8(out.stdout).unwrap());
            let ours = sshkey::parse(&text);
            match (&ours, &theirs) {
                (Ok(k), Some(t)) => {
                    assert_eq!(t.split_whitespace().nth(1).unwrap(), k.fingerprint());
                    both_ok += 1;
                }
                (Err(_), None) => both_err += 1,
                _ => panic!(
                    "disagree on {} (byte {}): ours={:?} ssh-keygen={:?}",
                    text, at, ours, theirs
                ),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        both_ok > 0 && both_err > 0,
        "ok={} err={}",
        both_ok,
        both_err
    );
    println!("agreed: accepted={} rejected={}", both_ok, both_err);
}
