//! Chi-square quantiles for gates: the Mahalanobis threshold that keeps a true plot with a
//! chosen probability, for 1, 2 or 3 measured dimensions.

/// ln Gamma(x) for x > 0 (Lanczos, g = 7, n = 9): 15 significant digits.
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised lower incomplete gamma P(a, x), by series below a + 1, continued fraction above.
fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        let (mut sum, mut del, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..500 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        sum * (-x + a * x.ln() - gln).exp()
    } else {
        // Lentz's continued fraction for Q(a, x).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..500 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        1.0 - (-x + a * x.ln() - gln).exp() * h
    }
}

/// Chi-square cumulative distribution with `k` degrees of freedom.
pub fn cdf(x: f64, k: u32) -> f64 {
    gamma_p(0.5 * k as f64, 0.5 * x)
}

/// The `p` quantile of the chi-square distribution with `k` degrees of freedom, by bisection
/// (gates are computed once per configuration, so simplicity beats speed here).
pub fn quantile(p: f64, k: u32) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-15);
    let (mut lo, mut hi) = (0.0, 1.0);
    while cdf(hi, k) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid, k) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_tables() {
        // Reference values from standard chi-square tables (scipy.stats.chi2.ppf).
        for &(p, k, q) in &[
            (0.99, 1, 6.634_896_601),
            (0.99, 2, 9.210_340_372),
            (0.99, 3, 11.344_866_73),
            (0.9999, 3, 21.107_513_52),
            (0.95, 2, 5.991_464_547),
            (0.5, 3, 2.365_973_884),
        ] {
            let got = quantile(p, k);
            assert!((got - q).abs() < 1e-6, "chi2({p}, {k}) = {got}, table {q}");
        }
        assert!((cdf(2.0 * 3.0_f64, 2) - (1.0 - (-3.0_f64).exp())).abs() < 1e-14);
    }
}
