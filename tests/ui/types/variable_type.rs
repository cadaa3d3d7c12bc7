use matgrad::gradient;

#[gradient(wrt = w)]
fn f(w: &Vec<f64>) -> f64 {
    w.iter().sum()
}

fn main() {}
