//! A small deterministic random generator (SplitMix64) and the distributions the shapes draw from.

/// SplitMix64: one `u64` of state, good enough statistics for a simulation, reproducible by seed.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Self {
        Random(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform in [low, high).
    pub fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }

    /// Uniform integer in `low..high`.
    pub fn index(&mut self, low: usize, high: usize) -> usize {
        low + ((high - low) as f64 * self.uniform()) as usize
    }

    /// Log-uniform in [low, high).
    pub fn log_between(&mut self, low: f64, high: f64) -> f64 {
        (self.between(low.ln(), high.ln())).exp()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Student's t with `df` degrees of freedom, scaled to unit variance (`df > 2`).
    pub fn student_unit(&mut self, df: u32) -> f64 {
        let chi2: f64 = (0..df).map(|_| self.normal().powi(2)).sum();
        let t = self.normal() / (chi2 / f64::from(df)).sqrt();
        t / (f64::from(df) / f64::from(df - 2)).sqrt()
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.uniform() < probability
    }
}
