//! What a reconciliation pass did, counted (also shown on `/metrics`).

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub asked: usize,
    pub applied: usize,
    pub duplicates: usize,
    pub failed: usize,
    pub review: usize,
    pub pending: usize,
    pub errors: usize,
}

impl Report {
    pub fn add(&mut self, other: &Report) {
        self.asked += other.asked;
        self.applied += other.applied;
        self.duplicates += other.duplicates;
        self.failed += other.failed;
        self.review += other.review;
        self.pending += other.pending;
        self.errors += other.errors;
    }
}
