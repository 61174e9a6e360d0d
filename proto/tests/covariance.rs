//! Packing of 6x6 covariances into the 21-value upper triangle.

// Index loops read best for matrix symmetry checks.
#![allow(clippy::needless_range_loop)]

use iapz_proto::{COV6_UPPER_LEN, ProtoError, cov6_index, cov6_to_upper, upper_to_cov6};

/// A symmetric matrix whose entries encode their position: 10*i + j for the
/// upper triangle, mirrored below.
fn labelled() -> [[f64; 6]; 6] {
    let mut m = [[0.0; 6]; 6];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            let (a, b) = (i.min(j), i.max(j));
            *x = (10 * a + b) as f64;
        }
    }
    m
}

#[test]
fn packing_order_is_row_major_upper_triangle() {
    let v = cov6_to_upper(&labelled());
    let expected = [
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0, // row 0
        11.0, 12.0, 13.0, 14.0, 15.0, // row 1
        22.0, 23.0, 24.0, 25.0, // row 2
        33.0, 34.0, 35.0, // row 3
        44.0, 45.0, // row 4
        55.0, // row 5
    ];
    assert_eq!(v, expected);
    assert_eq!(v.len(), COV6_UPPER_LEN);
    for i in 0..6 {
        for j in 0..6 {
            assert_eq!(v[cov6_index(i, j)], labelled()[i][j]);
        }
    }
}

#[test]
fn packing_round_trip() {
    let m = labelled();
    assert_eq!(upper_to_cov6(&cov6_to_upper(&m)).unwrap(), m);

    let v: Vec<f64> = (0..21).map(|k| f64::from(k) * 0.5 - 3.0).collect();
    let back = upper_to_cov6(&v).unwrap();
    for i in 0..6 {
        for j in 0..6 {
            assert_eq!(back[i][j], back[j][i], "symmetric at ({i}, {j})");
        }
    }
    assert_eq!(cov6_to_upper(&back), v);
}

#[test]
fn lower_triangle_is_ignored_when_packing() {
    let mut m = labelled();
    m[5][0] = f64::NAN;
    m[3][1] = -1.0;
    assert_eq!(cov6_to_upper(&m), cov6_to_upper(&labelled()));
}

#[test]
fn wrong_length_is_an_error() {
    for len in [0, 1, 20, 22, 36] {
        let v = vec![1.0; len];
        assert_eq!(upper_to_cov6(&v), Err(ProtoError::CovarianceLength(len)));
    }
    let msg = upper_to_cov6(&[1.0; 36]).unwrap_err().to_string();
    assert!(msg.contains("21") && msg.contains("36"), "{msg}");
}

#[test]
#[should_panic(expected = "out of range")]
fn index_out_of_range_panics() {
    let _ = cov6_index(6, 0);
}
