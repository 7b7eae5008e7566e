//! The dependency graph of an environment's stacks: cycles and waves.
//!
//! Pure: it knows stack names and why one depends on another (an import, or
//! `depends_on`), nothing of modules or clouds. Edges point from a stack to
//! what it needs. [`Graph::waves`] layers the stacks so that every stack in a
//! wave depends only on stacks of earlier waves; deploys run a wave's stacks
//! concurrently and deletions walk the waves backwards.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::config::StackName;

/// Why one stack depends on another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// It imports these outputs.
    Imports {
        /// Output names, sorted.
        outputs: Vec<String>,
    },
    /// `depends_on` names it.
    DependsOn,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Imports { outputs } => {
                let list: Vec<String> = outputs.iter().map(|o| format!("`{o}`")).collect();
                write!(f, "imports {}", list.join(", "))
            }
            Self::DependsOn => f.write_str("`depends_on`"),
        }
    }
}

/// Stacks and the reasons each depends on others.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// stack → (dependency → reasons)
    needs: BTreeMap<StackName, BTreeMap<StackName, BTreeSet<Reason>>>,
    /// dependency → the stacks that need it (the edges reversed, so
    /// [`Graph::dependents`] need not scan every stack)
    needed_by: BTreeMap<StackName, BTreeSet<StackName>>,
}

/// A set of stacks that can deploy together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wave {
    /// 1-based position.
    pub number: usize,
    /// Its stacks, sorted by name.
    pub stacks: Vec<StackName>,
}

/// A dependency cycle, spelled out: each stack needs the next, and the last
/// needs the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The stacks and why each needs the next.
    pub steps: Vec<(StackName, Reason)>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (stack, _) in &self.steps {
            write!(f, "`{stack}` → ")?;
        }
        match self.steps.first() {
            Some((first, _)) => write!(f, "`{first}`"),
            None => Ok(()),
        }
    }
}

impl Cycle {
    /// One line per step: "`database` needs `security` (imports `x`)".
    pub fn explain(&self) -> Vec<String> {
        let count = self.steps.len();
        (0..count)
            .map(|i| {
                let (stack, reason) = &self.steps[i];
                let next = &self.steps[(i + 1) % count].0;
                format!("`{stack}` needs `{next}` ({reason})")
            })
            .collect()
    }
}

impl Graph {
    /// A graph of `stacks` with no edges yet.
    pub fn new<'a>(stacks: impl IntoIterator<Item = &'a StackName>) -> Self {
        Self {
            needs: stacks
                .into_iter()
                .map(|s| (s.clone(), BTreeMap::new()))
                .collect(),
            needed_by: BTreeMap::new(),
        }
    }

    /// Record that `stack` needs `dependency` because of `reason`. Both must
    /// be stacks of the graph; unknown names are ignored (validation reports
    /// them with spans before a graph is built).
    pub fn add(&mut self, stack: &StackName, dependency: &StackName, reason: Reason) {
        if !self.needs.contains_key(dependency) {
            return;
        }
        if let Some(needs) = self.needs.get_mut(stack) {
            self.needed_by
                .entry(dependency.clone())
                .or_default()
                .insert(stack.clone());
            let reasons = needs.entry(dependency.clone()).or_default();
            match (reason, reasons.pop_first()) {
                (Reason::Imports { outputs }, Some(Reason::Imports { outputs: mut known })) => {
                    known.extend(outputs);
                    known.sort();
                    known.dedup();
                    reasons.insert(Reason::Imports { outputs: known });
                }
                (reason, previous) => {
                    reasons.extend(previous);
                    reasons.insert(reason);
                }
            }
        }
    }

    /// Every stack, sorted.
    pub fn stacks(&self) -> impl Iterator<Item = &StackName> {
        self.needs.keys()
    }

    /// What `stack` needs directly, with the reasons.
    pub fn dependencies(
        &self,
        stack: &str,
    ) -> impl Iterator<Item = (&StackName, &BTreeSet<Reason>)> {
        self.needs.get(stack).into_iter().flatten()
    }

    /// The stacks that need `stack` directly.
    pub fn dependents<'a>(&'a self, stack: &'a str) -> impl Iterator<Item = &'a StackName> + 'a {
        self.needed_by.get(stack).into_iter().flatten()
    }

    /// Every stack reached from `stack` by following dependents (not
    /// including `stack` itself), sorted.
    pub fn downstream(&self, stack: &str) -> BTreeSet<StackName> {
        let mut seen = BTreeSet::new();
        let mut queue: Vec<&str> = vec![stack];
        while let Some(current) = queue.pop() {
            for dependent in self.dependents(current) {
                if seen.insert(dependent.clone()) {
                    queue.push(dependent.as_str());
                }
            }
        }
        seen.remove(stack);
        seen
    }

    /// Layer the stacks into waves, or every cycle (one per tangle of stacks
    /// that need each other).
    pub fn waves(&self) -> Result<Vec<Wave>, Vec<Cycle>> {
        // Kahn's layering, linear in stacks and edges: each stack waits for
        // as many stacks as it needs; placing a wave counts down its
        // dependents, and those reaching zero form the next wave.
        let mut waiting: BTreeMap<&StackName, usize> = BTreeMap::new();
        let mut dependents: BTreeMap<&StackName, Vec<&StackName>> = BTreeMap::new();
        for (name, needs) in &self.needs {
            waiting.insert(name, needs.len());
            for dependency in needs.keys() {
                dependents.entry(dependency).or_default().push(name);
            }
        }
        let mut ready: Vec<&StackName> = waiting
            .iter()
            .filter(|(_, count)| **count == 0)
            .map(|(name, _)| *name)
            .collect();
        let mut placed = 0;
        let mut waves = Vec::new();
        while !ready.is_empty() {
            ready.sort();
            placed += ready.len();
            let mut next = Vec::new();
            for name in &ready {
                for dependent in dependents.get(*name).into_iter().flatten() {
                    if let Some(count) = waiting.get_mut(*dependent) {
                        *count -= 1;
                        if *count == 0 {
                            next.push(*dependent);
                        }
                    }
                }
            }
            waves.push(Wave {
                number: waves.len() + 1,
                stacks: ready.iter().map(|name| (*name).clone()).collect(),
            });
            ready = next;
        }
        if placed < self.needs.len() {
            let left: BTreeSet<&StackName> = waiting
                .iter()
                .filter(|(_, count)| **count > 0)
                .map(|(name, _)| *name)
                .collect();
            return Err(self.cycles(&left));
        }
        Ok(waves)
    }

    /// One cycle per strongly connected tangle among `left` (the stacks the
    /// layering could not place). Linear in `left` and its edges: a walk
    /// stops at a stack an earlier walk covered (it leads into a tangle
    /// already reported), and finds where a loop closes by index, not by
    /// searching the path.
    fn cycles(&self, left: &BTreeSet<&StackName>) -> Vec<Cycle> {
        let mut cycles = Vec::new();
        let mut covered: BTreeSet<&StackName> = BTreeSet::new();
        for start in left {
            if covered.contains(*start) {
                continue;
            }
            // Walk to the smallest unplaced dependency until a stack repeats:
            // every unplaced stack has one, so the walk must close a loop,
            // or reach a stack an earlier walk covered.
            let mut path: Vec<&StackName> = vec![start];
            let mut on_path: BTreeMap<&StackName, usize> = BTreeMap::from([(*start, 0)]);
            loop {
                let current = path[path.len() - 1];
                let Some(next) = self
                    .dependencies(current.as_str())
                    .map(|(d, _)| d)
                    .find(|d| left.contains(d))
                else {
                    break;
                };
                if covered.contains(next) {
                    break;
                }
                if let Some(&position) = on_path.get(next) {
                    let members = &path[position..];
                    let steps = members
                        .iter()
                        .enumerate()
                        .map(|(i, stack)| {
                            let next = members[(i + 1) % members.len()];
                            let reason = self
                                .needs
                                .get(*stack)
                                .and_then(|needs| needs.get(next))
                                .and_then(|reasons| reasons.first().cloned())
                                .unwrap_or(Reason::DependsOn);
                            ((*stack).clone(), reason)
                        })
                        .collect();
                    cycles.push(rotate_to_smallest(Cycle { steps }));
                    break;
                }
                on_path.insert(next, path.len());
                path.push(next);
            }
            // Everything that can reach this start through unplaced stacks is
            // part of the same tangle or behind it; mark the walk as covered.
            covered.extend(path);
        }
        cycles
    }
}

/// Start a cycle at its alphabetically first stack, so reports are stable.
fn rotate_to_smallest(mut cycle: Cycle) -> Cycle {
    if let Some(position) = cycle
        .steps
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.0.cmp(&b.1.0))
        .map(|(i, _)| i)
    {
        cycle.steps.rotate_left(position);
    }
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> StackName {
        StackName::parse(s).expect("valid test name")
    }

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut names: BTreeSet<StackName> = BTreeSet::new();
        for (a, b) in edges {
            names.insert(name(a));
            names.insert(name(b));
        }
        let mut graph = Graph::new(&names);
        for (a, b) in edges {
            graph.add(
                &name(a),
                &name(b),
                Reason::Imports {
                    outputs: vec![format!("{b}-id")],
                },
            );
        }
        graph
    }

    fn wave_names(graph: &Graph) -> Vec<Vec<String>> {
        graph
            .waves()
            .expect("no cycle")
            .into_iter()
            .map(|w| w.stacks.iter().map(ToString::to_string).collect())
            .collect()
    }

    #[test]
    fn layers_the_reference_architecture_into_waves() {
        let g = graph(&[
            ("security", "networking"),
            ("database", "networking"),
            ("database", "security"),
            ("compute", "database"),
            ("compute", "sqs"),
            ("monitoring", "compute"),
        ]);
        assert_eq!(
            wave_names(&g),
            [
                vec!["networking", "sqs"],
                vec!["security"],
                vec!["database"],
                vec!["compute"],
                vec!["monitoring"]
            ]
        );
    }

    #[test]
    fn layers_a_ten_thousand_stack_chain_one_stack_per_wave_in_order() {
        let names: Vec<StackName> = (0..10_000).map(|i| name(&format!("s{i}"))).collect();
        let mut g = Graph::new(&names);
        for pair in names.windows(2) {
            g.add(&pair[1], &pair[0], Reason::DependsOn);
        }
        let waves = g.waves().expect("no cycle");
        assert_eq!(waves.len(), 10_000);
        assert!(
            waves
                .iter()
                .zip(&names)
                .all(|(wave, name)| wave.stacks == [name.clone()])
        );
    }

    #[test]
    fn places_independent_stacks_in_the_first_wave() {
        let mut g = Graph::new(&[name("b"), name("a")]);
        g.add(&name("a"), &name("zzz"), Reason::DependsOn);
        assert_eq!(wave_names(&g), [vec!["a", "b"]]);
    }

    #[test]
    fn rejects_cycle_between_networking_and_database() {
        let g = graph(&[("networking", "database"), ("database", "networking")]);
        let cycles = g.waves().expect_err("a cycle");
        assert_eq!(cycles.len(), 1);
        assert_eq!(
            cycles[0].to_string(),
            "`database` → `networking` → `database`"
        );
        assert_eq!(
            cycles[0].explain(),
            [
                "`database` needs `networking` (imports `networking-id`)",
                "`networking` needs `database` (imports `database-id`)"
            ]
        );
    }

    #[test]
    fn spells_out_a_three_stack_cycle_and_ignores_stacks_behind_it() {
        let g = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("a", "e")]);
        let cycles = g.waves().expect_err("a cycle");
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].to_string(), "`a` → `b` → `c` → `a`");
    }

    #[test]
    fn finds_one_cycle_through_ten_thousand_stacks_and_the_chain_behind_it() {
        // A ring of 10,000 stacks with a chain of 10,000 more hanging off
        // it: one cycle, spelled out once (this took minutes when every
        // stack behind the ring walked it again).
        let ring: Vec<String> = (0..10_000).map(|i| format!("r{i:05}")).collect();
        let tail: Vec<String> = (0..10_000).map(|i| format!("t{i:05}")).collect();
        let mut edges: Vec<(&str, &str)> = ring
            .iter()
            .zip(ring.iter().cycle().skip(1))
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        edges.push((tail[0].as_str(), ring[0].as_str()));
        edges.extend(tail.windows(2).map(|w| (w[1].as_str(), w[0].as_str())));
        let cycles = graph(&edges).waves().expect_err("a cycle");
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].steps.len(), 10_000);
        assert_eq!(cycles[0].steps[0].0.as_str(), "r00000");
    }

    #[test]
    fn reports_two_separate_cycles() {
        let g = graph(&[("a", "b"), ("b", "a"), ("x", "y"), ("y", "x")]);
        assert_eq!(g.waves().expect_err("cycles").len(), 2);
    }

    #[test]
    fn merges_import_reasons_between_the_same_stacks() {
        let mut g = Graph::new(&[name("a"), name("b")]);
        g.add(
            &name("a"),
            &name("b"),
            Reason::Imports {
                outputs: vec!["y".into()],
            },
        );
        g.add(
            &name("a"),
            &name("b"),
            Reason::Imports {
                outputs: vec!["x".into()],
            },
        );
        g.add(&name("a"), &name("b"), Reason::DependsOn);
        let reasons: Vec<String> = g
            .dependencies("a")
            .flat_map(|(_, r)| r.iter().map(ToString::to_string))
            .collect();
        assert_eq!(reasons, ["imports `x`, `y`", "`depends_on`"]);
    }

    #[test]
    fn finds_every_stack_downstream_of_networking() {
        let g = graph(&[
            ("security", "networking"),
            ("database", "security"),
            ("s3", "other"),
        ]);
        let down: Vec<String> = g
            .downstream("networking")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(down, ["database", "security"]);
    }
}
