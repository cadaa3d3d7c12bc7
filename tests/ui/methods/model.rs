use matgrad::gradient;
use matgrad::nalgebra::DVector;

// `argmin` without a name is for methods: on a function, name the struct.
#[gradient(wrt = w, argmin)]
fn loss(w: &DVector<f64>) -> f64 {
    w.norm_squared()
}

struct Model {
    y: DVector<f64>,
}

// On a method, the solver passes the variable only.
impl Model {
    #[gradient(wrt = w, argmin)]
    fn fit(&self, w: &DVector<f64>, scale: f64) -> f64 {
        scale * (w - &self.y).norm_squared()
    }
}

// #[matgrad::model] needs a method that asks for argmin.
#[matgrad::model]
impl Model {
    fn size(&self) -> usize {
        self.y.len()
    }
}

fn main() {}
