//! `#[differentiable]` helpers defined in another crate (`matgrad_integrations::kernels`, the
//! library of this package) and called here, on the path from a variable.

use matgrad::gradient;
use matgrad_integrations::kernels;
use nalgebra::DVector;

#[gradient(wrt = (x, ell), hessian)]
fn kernel_sum(x: &DVector<f64>, y: &DVector<f64>, ell: f64) -> f64 {
    kernels::se(x, y, ell) + matgrad_integrations::kernels::squared_distance(x, y)
}

#[test]
fn helpers_from_another_crate() {
    let x = DVector::from_vec(vec![0.3, -0.2, 0.5]);
    let y = DVector::from_vec(vec![0.1, 0.4, -0.3]);
    let ell = 0.7;
    let k = kernels::se(&x, &y, ell);
    let (gx, gl) = kernel_sum_grad(&x, &y, ell);
    let want_x = -(&x - &y) * (k / (ell * ell)) + 2.0 * (&x - &y);
    assert!((&gx - &want_x).norm() < 1e-12, "{gx} vs {want_x}");
    let want_l = (&x - &y).norm_squared() * k / ell.powi(3);
    assert!((gl - want_l).abs() < 1e-12, "{gl} vs {want_l}");
    // Against central differences, and the Hessian's ℓ-column against differences of the gradient.
    let h = 1e-6;
    for i in 0..3 {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let numeric = (kernel_sum(&xp, &y, ell) - kernel_sum(&xm, &y, ell)) / (2.0 * h);
        assert!(
            (gx[i] - numeric).abs() < 1e-6,
            "{i}: {} vs {numeric}",
            gx[i]
        );
    }
    let hess = kernel_sum_hessian(&x, &y, ell);
    let ((gxp, glp), (gxm, glm)) = (
        kernel_sum_grad(&x, &y, ell + h),
        kernel_sum_grad(&x, &y, ell - h),
    );
    for i in 0..3 {
        assert!((hess[(i, 3)] - (gxp[i] - gxm[i]) / (2.0 * h)).abs() < 1e-5);
    }
    assert!((hess[(3, 3)] - (glp - glm) / (2.0 * h)).abs() < 1e-5);
}
