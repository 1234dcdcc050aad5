//! The execute queue's lanes and their fairness window.
//!
//! Four lanes, most urgent first: disputes, approvals, backing of system parachains, backing.
//! Strict priority would starve backing under approval load, so each lane has a share of the
//! jobs scheduled at its level or below within a window of 12: a lane that has reached its
//! share yields to the next lane with work. With every lane busy a window runs 8 dispute,
//! 3 approval and 1 system-backing job; with no disputes 9 approval, 2 system backing and 1
//! backing; and a lone backing job behind approvals runs second. These are the reference's
//! numbers (`SCHEDULING_WINDOW_SIZE` and the 70/80/100/100 % thresholds).

use std::collections::VecDeque;

/// The execution lane of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExecPriority {
    /// A dispute: finality may depend on it.
    Dispute,
    /// An approval check.
    Approval,
    /// Backing a candidate of a system parachain.
    BackingSystemParas,
    /// Backing any other candidate.
    Backing,
}

impl ExecPriority {
    /// Every lane, most urgent first.
    pub const ALL: [ExecPriority; 4] = [
        ExecPriority::Dispute,
        ExecPriority::Approval,
        ExecPriority::BackingSystemParas,
        ExecPriority::Backing,
    ];

    /// Share (in %) of the jobs scheduled at this level or below that this lane may take in a
    /// window before it yields.
    pub fn threshold(self) -> u32 {
        match self {
            ExecPriority::Dispute => 70,
            ExecPriority::Approval => 80,
            ExecPriority::BackingSystemParas | ExecPriority::Backing => 100,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The label used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecPriority::Dispute => "dispute",
            ExecPriority::Approval => "approval",
            ExecPriority::BackingSystemParas => "backing_system_paras",
            ExecPriority::Backing => "backing",
        }
    }
}

/// Why a candidate is executed, as the node's candidate validation says it: the lane, and for
/// backing the relay parent (backing jobs whose relay parent leaves the view are dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PvfExecKind {
    /// A dispute.
    Dispute,
    /// An approval check.
    Approval,
    /// Backing a system parachain's candidate at this relay parent.
    BackingSystemParas([u8; 32]),
    /// Backing a candidate at this relay parent.
    Backing([u8; 32]),
}

impl PvfExecKind {
    /// The execution lane.
    pub fn priority(self) -> ExecPriority {
        match self {
            PvfExecKind::Dispute => ExecPriority::Dispute,
            PvfExecKind::Approval => ExecPriority::Approval,
            PvfExecKind::BackingSystemParas(_) => ExecPriority::BackingSystemParas,
            PvfExecKind::Backing(_) => ExecPriority::Backing,
        }
    }

    /// The relay parent of a backing job.
    pub fn backing_relay_parent(self) -> Option<[u8; 32]> {
        match self {
            PvfExecKind::BackingSystemParas(hash) | PvfExecKind::Backing(hash) => Some(hash),
            PvfExecKind::Dispute | PvfExecKind::Approval => None,
        }
    }
}

/// Jobs scheduled per window before the counters reset.
pub const SCHEDULING_WINDOW_SIZE: u32 = 12;

/// Waiting jobs per lane, and how many each lane got in the current window.
#[derive(Debug)]
pub struct Lanes<T> {
    queues: [VecDeque<T>; 4],
    scheduled: [u32; 4],
}

impl<T> Default for Lanes<T> {
    fn default() -> Self {
        Self {
            queues: Default::default(),
            scheduled: [0; 4],
        }
    }
}

impl<T> Lanes<T> {
    /// Queues `job` at the back of its lane.
    pub fn push(&mut self, priority: ExecPriority, job: T) {
        self.queues[priority.index()].push_back(job);
    }

    /// Puts `job` back at the front of its lane (it was taken but could not start).
    pub fn push_front(&mut self, priority: ExecPriority, job: T) {
        self.queues[priority.index()].push_front(job);
    }

    /// Jobs waiting in all lanes.
    pub fn len(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Whether no job waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn has_reached_share(&self, priority: ExecPriority) -> bool {
        let own = self.scheduled[priority.index()];
        let at_or_below: u32 = self.scheduled[priority.index()..].iter().sum();
        at_or_below > 0 && own * 100 / at_or_below >= priority.threshold()
    }

    /// The lane the next job should come from, without taking it.
    pub fn select_lane(&self) -> Option<ExecPriority> {
        let pending = || {
            ExecPriority::ALL
                .into_iter()
                .filter(|p| !self.queues[p.index()].is_empty())
        };
        pending()
            .find(|p| !self.has_reached_share(*p))
            .or_else(|| pending().next())
    }

    /// The eldest job of `lane`, if any.
    pub fn front(&self, lane: ExecPriority) -> Option<&T> {
        self.queues[lane.index()].front()
    }

    /// Takes the first job of `lane` that satisfies `accept` and counts it in the window.
    pub fn take_from(&mut self, lane: ExecPriority, accept: impl Fn(&T) -> bool) -> Option<T> {
        let queue = &mut self.queues[lane.index()];
        let position = queue.iter().position(accept)?;
        let job = queue.remove(position)?;
        self.count(lane);
        Some(job)
    }

    /// Takes the next job by the fairness rules.
    pub fn take_next(&mut self) -> Option<(ExecPriority, T)> {
        let lane = self.select_lane()?;
        self.take_from(lane, |_| true).map(|job| (lane, job))
    }

    fn count(&mut self, lane: ExecPriority) {
        if self.scheduled.iter().sum::<u32>() >= SCHEDULING_WINDOW_SIZE {
            self.scheduled = [0; 4];
        }
        self.scheduled[lane.index()] += 1;
    }

    /// Removes and returns every waiting job for which `drop` is true (e.g. backing jobs whose
    /// relay parent left the view).
    pub fn drain_where(&mut self, drop: impl Fn(ExecPriority, &T) -> bool) -> Vec<T> {
        let mut dropped = Vec::new();
        for lane in ExecPriority::ALL {
            let queue = std::mem::take(&mut self.queues[lane.index()]);
            for job in queue {
                if drop(lane, &job) {
                    dropped.push(job);
                } else {
                    self.queues[lane.index()].push_back(job);
                }
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecPriority::*;

    /// Fills the given lanes with more work than a window takes and returns how many jobs of
    /// each lane one window schedules.
    fn one_window(busy: &[ExecPriority]) -> [u32; 4] {
        let mut lanes = Lanes::default();
        for p in busy {
            for _ in 0..SCHEDULING_WINDOW_SIZE {
                lanes.push(*p, ());
            }
        }
        let mut taken = [0; 4];
        for _ in 0..SCHEDULING_WINDOW_SIZE {
            let (lane, ()) = lanes.take_next().unwrap();
            taken[lane.index()] += 1;
        }
        taken
    }

    #[test]
    fn all_lanes_busy_gives_8_3_1_0() {
        assert_eq!(one_window(&ExecPriority::ALL), [8, 3, 1, 0]);
    }

    #[test]
    fn without_disputes_gives_9_2_1() {
        assert_eq!(
            one_window(&[Approval, BackingSystemParas, Backing]),
            [0, 9, 2, 1]
        );
    }

    #[test]
    fn a_lone_backing_job_runs_second_behind_approvals() {
        let mut lanes = Lanes::default();
        for _ in 0..5 {
            lanes.push(Approval, "approval");
        }
        lanes.push(Backing, "backing");
        assert_eq!(lanes.take_next(), Some((Approval, "approval")));
        assert_eq!(lanes.take_next(), Some((Backing, "backing")));
    }

    #[test]
    fn single_lane_work_is_never_held_back() {
        assert_eq!(one_window(&[Backing]), [0, 0, 0, 12]);
        assert_eq!(one_window(&[Dispute]), [12, 0, 0, 0]);
    }

    #[test]
    fn windows_repeat_after_reset() {
        let mut lanes = Lanes::default();
        for p in ExecPriority::ALL {
            for _ in 0..3 * SCHEDULING_WINDOW_SIZE {
                lanes.push(p, ());
            }
        }
        for _ in 0..3 {
            let mut taken = [0; 4];
            for _ in 0..SCHEDULING_WINDOW_SIZE {
                taken[lanes.take_next().unwrap().0.index()] += 1;
            }
            assert_eq!(taken, [8, 3, 1, 0]);
        }
    }

    #[test]
    fn take_from_and_drain_where() {
        let mut lanes = Lanes::default();
        lanes.push(Backing, 1);
        lanes.push(Backing, 2);
        lanes.push(Approval, 3);
        assert_eq!(lanes.take_from(Backing, |j| *j == 2), Some(2));
        assert_eq!(lanes.drain_where(|lane, _| lane == Backing), vec![1]);
        assert_eq!(lanes.len(), 1);
        assert_eq!(lanes.take_next(), Some((Approval, 3)));
        assert!(lanes.is_empty());
    }
}
