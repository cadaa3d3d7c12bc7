use matgrad::gradient;
use matgrad::nalgebra::DVector;

struct Model {
    y: DVector<f64>,
}

impl Model {
    // The generated methods read the fields: the method takes `&self`.
    #[gradient(wrt = w)]
    fn loss(&mut self, w: &DVector<f64>) -> f64 {
        (w - &self.y).norm_squared()
    }

    // A solver struct wraps a free function.
    #[gradient(wrt = w, minimize)]
    fn fit(&self, w: &DVector<f64>) -> f64 {
        (w - &self.y).norm_squared()
    }
}

fn main() {}
