//! Is an uncompressed NIST P-256/384/521 point on its curve? OpenSSH
//! refuses keys whose point is not (sshkey_ec_validate_public), so we do
//! too, rather than call such a key valid. Plain modular arithmetic on fixed
//! arrays: slow by crypto standards (microseconds), ample for one key.
//! Curve constants from SEC 2 / FIPS 186-4, checked against real keys.

use core::cmp::Ordering;

/// 576 bits: room for 2p of P-521.
const LIMBS: usize = 18;
type Num = [u32; LIMBS];

struct Curve {
    p: &'static str,
    b: &'static str,
}

const P256: Curve = Curve {
    p: "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
    b: "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
};
const P384: Curve = Curve {
    p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    b: "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
};
const P521: Curve = Curve {
    p: "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    b: "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
};

/// Big-endian bytes (at most 72) to little-endian limbs.
fn from_be(bytes: &[u8]) -> Num {
    let mut n = [0u32; LIMBS];
    for (i, &b) in bytes.iter().rev().enumerate().take(LIMBS * 4) {
        n[i / 4] |= (b as u32) << (8 * (i % 4));
    }
    n
}

fn from_hex(s: &str) -> Num {
    let mut n = [0u32; LIMBS];
    for (i, c) in s.bytes().rev().enumerate().take(LIMBS * 8) {
        let v = (c as char).to_digit(16).unwrap_or(0);
        n[i / 8] |= v << (4 * (i % 8));
    }
    n
}

fn cmp(a: &Num, b: &Num) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

fn add(a: &Num, b: &Num) -> Num {
    let mut r = [0u32; LIMBS];
    let mut carry = 0u64;
    for i in 0..LIMBS {
        let s = a[i] as u64 + b[i] as u64 + carry;
        r[i] = s as u32;
        carry = s >> 32;
    }
    r // callers keep sums below 2^576
}

/// a - b for a >= b.
fn sub(a: &Num, b: &Num) -> Num {
    let mut r = [0u32; LIMBS];
    let mut borrow = 0i64;
    for i in 0..LIMBS {
        let d = a[i] as i64 - b[i] as i64 - borrow;
        r[i] = d as u32;
        borrow = (d < 0) as i64;
    }
    r
}

/// (a + b) mod p for a, b < p.
fn add_mod(a: &Num, b: &Num, p: &Num) -> Num {
    let s = add(a, b);
    if cmp(&s, p) == Ordering::Less {
        s
    } else {
        sub(&s, p)
    }
}

/// (a - b) mod p for a, b < p.
fn sub_mod(a: &Num, b: &Num, p: &Num) -> Num {
    if cmp(a, b) == Ordering::Less {
        sub(&add(a, p), b)
    } else {
        sub(a, b)
    }
}

/// (a * b) mod p for a, b < p, by doubling and adding over b's bits.
fn mul_mod(a: &Num, b: &Num, p: &Num) -> Num {
    let mut r = [0u32; LIMBS];
    // b < p: bits above p's top bit are zero
    let top = (0..LIMBS)
        .rev()
        .find(|&i| p[i] != 0)
        .map_or(0, |i| i as u32 * 32 + 32 - p[i].leading_zeros());
    for i in (0..top as usize).rev() {
        r = add_mod(&r, &r, p);
        if b[i / 32] >> (i % 32) & 1 == 1 {
            r = add_mod(&r, a, p);
        }
    }
    r
}

/// `point` is 0x04 || x || y; `curve` is "nistp256", "nistp384" or
/// "nistp521". True when x, y < p and y^2 = x^3 - 3x + b (mod p).
pub fn on_curve(curve: &str, point: &[u8]) -> bool {
    let c = match curve {
        "nistp256" => &P256,
        "nistp384" => &P384,
        "nistp521" => &P521,
        _ => return false,
    };
    let Some((&4, xy)) = point.split_first() else {
        return false;
    };
    let len = xy.len() / 2;
    if xy.len() % 2 != 0 || len > 66 {
        return false;
    }
    let (p, b) = (from_hex(c.p), from_hex(c.b));
    let (x, y) = (from_be(&xy[..len]), from_be(&xy[len..]));
    if cmp(&x, &p) != Ordering::Less || cmp(&y, &p) != Ordering::Less {
        return false;
    }
    let y2 = mul_mod(&y, &y, &p);
    let x3 = mul_mod(&mul_mod(&x, &x, &p), &x, &p);
    let three_x = add_mod(&add_mod(&x, &x, &p), &x, &p);
    let rhs = add_mod(&sub_mod(&x3, &three_x, &p), &b, &p);
    y2 == rhs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P-256's base point (FIPS 186-4).
    const G256: &str = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

    fn hex(s: &str) -> alloc::vec::Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn base_point_and_its_mutations() {
        let g = hex(G256);
        assert!(on_curve("nistp256", &g));
        assert!(!on_curve("nistp384", &g));
        for i in 1..g.len() {
            let mut m = g.clone();
            m[i] ^= 1;
            assert!(!on_curve("nistp256", &m), "byte {} flipped", i);
        }
        let mut c = g.clone();
        c[0] = 2;
        assert!(!on_curve("nistp256", &c), "compressed form refused");
        assert!(!on_curve("nistp256", &[4]));
        assert!(!on_curve("nistp256", &[]));
    }

    #[test]
    fn coordinates_must_be_below_p() {
        // (0, sqrt(b)) is not known offhand, but x = p is out of range
        // whatever y is
        let mut pt = alloc::vec![4u8];
        pt.extend(hex(P256.p));
        pt.extend([0u8; 32]);
        assert!(!on_curve("nistp256", &pt));
    }

    #[test]
    fn arithmetic() {
        let p = from_hex("61"); // 97
        let a = from_hex("50"); // 80
        let b = from_hex("4b"); // 75
        assert_eq!(mul_mod(&a, &b, &p)[0], 80 * 75 % 97);
        assert_eq!(add_mod(&a, &b, &p)[0], (80 + 75) % 97);
        assert_eq!(sub_mod(&b, &a, &p)[0], 97 - 5);
        let big = from_hex(P521.p);
        let m1 = sub(&big, &from_hex("1"));
        // (p-1)^2 = 1 mod p
        assert_eq!(mul_mod(&m1, &m1, &big), from_hex("1"));
    }
}
