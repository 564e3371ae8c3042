//! The allocation-lean core of the planner: a dependency graph over dense `u32` node indices,
//! stored as two CSR arrays (dependencies and dependents), with Kahn's algorithm for waves,
//! a weighted longest path for the critical path, Tarjan SCC for cycles and a BFS for
//! blast radius. [`super::plan_release`] maps component ids to indices, runs this, and maps
//! back at the end; hosts with huge topologies can use it directly.
//!
//! An edge `(dependent, dependency)` means "`dependent` is deployed after `dependency`".

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroU32;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// Why a [`DependencyGraph`] could not be built or ordered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// An edge names a node outside `0..node_count`.
    #[error(
        "edge {dependent} → {dependency} names a node outside 0..{node_count}; number the nodes densely from 0"
    )]
    NodeOutOfRange {
        /// The edge's dependent.
        dependent: u32,
        /// The edge's dependency.
        dependency: u32,
        /// The graph's node count.
        node_count: usize,
    },
    /// More nodes or edges than `u32` indices can address.
    #[error(
        "the graph has {node_count} nodes and {edge_count} edges; at most 4,294,967,294 of each are supported, split the topology"
    )]
    TooLarge {
        /// Nodes asked for.
        node_count: usize,
        /// Edges given.
        edge_count: usize,
    },
    /// A mask or weight slice does not have one entry per node.
    #[error(
        "a per-node slice has {len} entries but the graph has {node_count} nodes; pass one entry per node"
    )]
    LengthMismatch {
        /// The slice's length.
        len: usize,
        /// The graph's node count.
        node_count: usize,
    },
    /// The dependencies form a cycle; `path` starts and ends at the same node and each
    /// consecutive pair is an edge (dependent, dependency).
    #[error("dependency cycle through nodes {path:?}; remove one of its edges")]
    Cycle {
        /// The cycle, first node repeated at the end.
        path: Vec<u32>,
    },
}

/// One direction of the adjacency in compressed sparse row form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Csr {
    /// `offsets[v]..offsets[v + 1]` is node `v`'s range in `targets`; `len == nodes + 1`.
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Csr {
    /// Counting-sort build: two passes over the edges, no per-node allocation.
    /// Callers have checked every index against `n` and that the counts fit in `u32`.
    fn build(n: usize, edges: &[(u32, u32)], reversed: bool) -> Self {
        let mut offsets = vec![0u32; n + 1];
        for &(a, b) in edges {
            let source = if reversed { b } else { a };
            offsets[source as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; edges.len()];
        for &(a, b) in edges {
            let (source, target) = if reversed { (b, a) } else { (a, b) };
            let slot = &mut fill[source as usize];
            targets[*slot as usize] = target;
            *slot += 1;
        }
        Self { offsets, targets }
    }

    /// The reverse adjacency by a counting sort; each reversed row lists its sources in
    /// ascending order, as [`Csr::build`] does for edges listed by ascending dependent.
    /// Callers have checked every target against `n`.
    fn transposed(&self, n: usize) -> Self {
        let mut offsets = vec![0u32; n + 1];
        for &u in &self.targets {
            offsets[u as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets[..n].to_vec();
        let mut targets = vec![0u32; self.targets.len()];
        for v in 0..n {
            for &u in self.row(v as u32) {
                let slot = &mut fill[u as usize];
                targets[*slot as usize] = v as u32;
                *slot += 1;
            }
        }
        Self { offsets, targets }
    }

    fn row(&self, v: u32) -> &[u32] {
        let v = v as usize;
        match (self.offsets.get(v), self.offsets.get(v + 1)) {
            (Some(&start), Some(&end)) => &self.targets[start as usize..end as usize],
            _ => &[],
        }
    }
}

/// A dependency graph over nodes `0..node_count`, with both directions stored as CSR.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DependencyGraph {
    node_count: usize,
    dependencies: Csr,
    dependents: Csr,
}

impl DependencyGraph {
    /// Builds the graph from `(dependent, dependency)` edges; duplicates are kept and harmless.
    pub fn from_edges(node_count: usize, edges: &[(u32, u32)]) -> Result<Self, GraphError> {
        let limit = u32::MAX as usize - 1;
        if node_count > limit || edges.len() > limit {
            return Err(GraphError::TooLarge {
                node_count,
                edge_count: edges.len(),
            });
        }
        if let Some(&(dependent, dependency)) = edges
            .iter()
            .find(|&&(a, b)| a as usize >= node_count || b as usize >= node_count)
        {
            return Err(GraphError::NodeOutOfRange {
                dependent,
                dependency,
                node_count,
            });
        }
        Ok(Self {
            node_count,
            dependencies: Csr::build(node_count, edges, false),
            dependents: Csr::build(node_count, edges, true),
        })
    }

    /// Builds the graph from its dependency rows in CSR form: `offsets[v]..offsets[v + 1]` is
    /// node `v`'s range in `targets` (its dependencies, in the order given). The planner
    /// resolves `depends_on` straight into this form, which saves the edge list and one of the
    /// two counting passes of [`Self::from_edges`]; the graph is the same as `from_edges` on
    /// the edges `(v, targets[i])` listed row by row.
    pub(crate) fn from_dependency_rows(
        offsets: Vec<u32>,
        targets: Vec<u32>,
    ) -> Result<Self, GraphError> {
        let node_count = offsets.len().saturating_sub(1);
        let limit = u32::MAX as usize - 1;
        if node_count > limit || targets.len() > limit {
            return Err(GraphError::TooLarge {
                node_count,
                edge_count: targets.len(),
            });
        }
        let well_formed = offsets.first().is_none_or(|&o| o == 0)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last().is_none_or(|&o| o as usize == targets.len());
        if !well_formed {
            return Err(GraphError::LengthMismatch {
                len: targets.len(),
                node_count,
            });
        }
        if let Some(at) = targets.iter().position(|&u| u as usize >= node_count) {
            // The row holding position `at`: the last offset at or before it.
            let dependent = offsets.partition_point(|&o| o as usize <= at) - 1;
            return Err(GraphError::NodeOutOfRange {
                dependent: dependent as u32,
                dependency: targets[at],
                node_count,
            });
        }
        let dependencies = Csr { offsets, targets };
        let dependents = dependencies.transposed(node_count);
        Ok(Self {
            node_count,
            dependencies,
            dependents,
        })
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Number of edges (duplicates included).
    pub fn edge_count(&self) -> usize {
        self.dependencies.targets.len()
    }

    /// The direct dependencies of `node` (empty for a node outside the graph).
    pub fn dependencies(&self, node: u32) -> &[u32] {
        self.dependencies.row(node)
    }

    /// The direct dependents of `node`: the reverse index (empty for a node outside the graph).
    pub fn dependents(&self, node: u32) -> &[u32] {
        self.dependents.row(node)
    }

    /// The same graph with every edge reversed (dependents become dependencies).
    pub fn reverse(&self) -> Self {
        Self {
            node_count: self.node_count,
            dependencies: self.dependents.clone(),
            dependents: self.dependencies.clone(),
        }
    }

    /// A topological order (dependencies first) by Kahn's algorithm, or the cycle that
    /// prevents one.
    pub fn topological_order(&self) -> Result<Vec<u32>, GraphError> {
        self.order_and_levels(None).map(|(order, _)| order)
    }

    /// Kahn's algorithm, computing each node's level in the same pass: `level[v]` is the
    /// number of shipped nodes on the longest chain strictly below `v` (every node counts
    /// when `shipped` is `None`). `shipped`, when given, has one entry per node.
    pub(crate) fn order_and_levels(
        &self,
        shipped: Option<&[bool]>,
    ) -> Result<(Vec<u32>, Vec<u32>), GraphError> {
        let n = self.node_count;
        let mut pending: Vec<u32> = self
            .dependencies
            .offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect();
        let mut level = vec![0u32; n];
        let mut order: Vec<u32> = Vec::with_capacity(n);
        order.extend((0..n as u32).filter(|&v| pending[v as usize] == 0));
        // `order` doubles as the FIFO queue: everything before `head` is processed.
        let mut head = 0;
        while let Some(&u) = order.get(head) {
            head += 1;
            let above = level[u as usize] + u32::from(shipped.is_none_or(|s| s[u as usize]));
            for &w in self.dependents.row(u) {
                let wi = w as usize;
                level[wi] = level[wi].max(above);
                pending[wi] -= 1;
                if pending[wi] == 0 {
                    order.push(w);
                }
            }
        }
        if order.len() == n {
            Ok((order, level))
        } else {
            let mut done = vec![false; n];
            for &v in &order {
                done[v as usize] = true;
            }
            Err(GraphError::Cycle {
                path: self.cycle_among(&done),
            })
        }
    }

    /// The planner's single pass: Kahn's algorithm computing, for every node, its level (as
    /// [`Self::order_and_levels`] with `shipped`) and the heaviest chain of shipped nodes (as
    /// [`Self::critical_path_in_order`]). The chain is pushed along the dependents as each
    /// node is finalised, in the same loop that updates the levels, so each edge touches one
    /// 24-byte node record instead of four arrays in two passes; `better` is a strict order
    /// on (weight, top), so the push order cannot change the answer.
    pub(crate) fn levels_and_critical_path(
        &self,
        shipped: &[bool],
        weights: &[u64],
    ) -> Result<(Vec<u32>, Vec<u32>, u64), GraphError> {
        const NONE: u32 = u32::MAX;
        #[derive(Clone, Copy)]
        struct Node {
            /// Dependencies not finalised yet.
            pending: u32,
            level: u32,
            /// Before the node is finalised: the best chain among its dependencies; after:
            /// the best chain at or below it. `top` is the chain's last shipped node.
            top: u32,
            /// The node's predecessor on its chain (shipped nodes only).
            previous: u32,
            weight: u64,
        }
        self.check_len(shipped.len())?;
        self.check_len(weights.len())?;
        let n = self.node_count;
        let better = |w: u64, t: u32, bw: u64, bt: u32| {
            bt == NONE || (t != NONE && (w > bw || (w == bw && t < bt)))
        };
        let mut nodes: Vec<Node> = self
            .dependencies
            .offsets
            .windows(2)
            .map(|w| Node {
                pending: w[1] - w[0],
                level: 0,
                top: NONE,
                previous: NONE,
                weight: 0,
            })
            .collect();
        let mut order: Vec<u32> = Vec::with_capacity(n);
        order.extend((0..n as u32).filter(|&v| nodes[v as usize].pending == 0));
        let mut head = 0;
        while let Some(&u) = order.get(head) {
            head += 1;
            let ui = u as usize;
            let node = &mut nodes[ui];
            let is_shipped = shipped[ui];
            if is_shipped {
                node.previous = node.top;
                node.weight = node.weight.saturating_add(weights[ui]);
                node.top = u;
            }
            let (above, weight, top) = (node.level + u32::from(is_shipped), node.weight, node.top);
            for &w in self.dependents.row(u) {
                let next = &mut nodes[w as usize];
                next.level = next.level.max(above);
                if top != NONE && better(weight, top, next.weight, next.top) {
                    next.weight = weight;
                    next.top = top;
                }
                next.pending -= 1;
                if next.pending == 0 {
                    order.push(w);
                }
            }
        }
        if order.len() != n {
            let mut done = vec![false; n];
            for &v in &order {
                done[v as usize] = true;
            }
            return Err(GraphError::Cycle {
                path: self.cycle_among(&done),
            });
        }
        drop(order);
        let (mut weight, mut end) = (0u64, NONE);
        for (v, node) in nodes.iter().enumerate() {
            if shipped[v] && better(node.weight, v as u32, weight, end) {
                (weight, end) = (node.weight, v as u32);
            }
        }
        let mut path = Vec::new();
        while end != NONE {
            path.push(end);
            end = nodes[end as usize].previous;
        }
        path.reverse();
        let level = nodes.iter().map(|node| node.level).collect();
        Ok((level, path, weight))
    }

    /// Waves when every node is deployed: wave `k` holds the nodes whose longest dependency
    /// chain has `k` edges; nodes within a wave are in ascending index order.
    pub fn waves(&self) -> Result<Waves, GraphError> {
        let (_, level) = self.order_and_levels(None)?;
        Ok(Self::group_levels(&level, None))
    }

    /// Waves of the nodes with `shipped[v] == true`, ordered transitively through the others:
    /// a shipped node goes after every shipped node it reaches, whatever lies between.
    pub fn waves_of(&self, shipped: &[bool]) -> Result<Waves, GraphError> {
        self.check_len(shipped.len())?;
        let (_, level) = self.order_and_levels(Some(shipped))?;
        Ok(Self::group_levels(&level, Some(shipped)))
    }

    /// Groups (shipped) nodes by level with a counting sort; scanning nodes upwards keeps
    /// each wave in index order.
    pub(crate) fn group_levels(level: &[u32], shipped: Option<&[bool]>) -> Waves {
        let is_shipped = |v: usize| shipped.is_none_or(|s| s[v]);
        let mut wave_count = 0usize;
        let mut node_count = 0usize;
        for (v, &l) in level.iter().enumerate() {
            if is_shipped(v) {
                wave_count = wave_count.max(l as usize + 1);
                node_count += 1;
            }
        }
        let mut offsets = vec![0u32; wave_count + 1];
        for (v, &l) in level.iter().enumerate() {
            if is_shipped(v) {
                offsets[l as usize + 1] += 1;
            }
        }
        for i in 0..wave_count {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut nodes = vec![0u32; node_count];
        for (v, &l) in level.iter().enumerate() {
            if is_shipped(v) {
                let slot = &mut fill[l as usize];
                nodes[*slot as usize] = v as u32;
                *slot += 1;
            }
        }
        Waves { offsets, nodes }
    }

    /// The heaviest chain of shipped nodes (each one transitively depending on the one
    /// before), with its total weight; unshipped nodes weigh nothing and are left out.
    /// Ties go to the chain ending in (then passing through) the smaller index.
    pub fn critical_path(
        &self,
        shipped: &[bool],
        weights: &[u64],
    ) -> Result<(Vec<u32>, u64), GraphError> {
        self.check_len(shipped.len())?;
        self.check_len(weights.len())?;
        let order = self.topological_order()?;
        Ok(self.critical_path_in_order(&order, shipped, weights))
    }

    pub(crate) fn critical_path_in_order(
        &self,
        order: &[u32],
        shipped: &[bool],
        weights: &[u64],
    ) -> (Vec<u32>, u64) {
        const NONE: u32 = u32::MAX;
        let n = self.node_count;
        // Best chain at or below v: its weight and its top shipped node.
        let mut best_weight = vec![0u64; n];
        let mut best_top = vec![NONE; n];
        let mut previous = vec![NONE; n];
        let better = |w: u64, t: u32, bw: u64, bt: u32| {
            bt == NONE || (t != NONE && (w > bw || (w == bw && t < bt)))
        };
        for &v in order {
            let (mut w, mut t) = (0u64, NONE);
            for &u in self.dependencies.row(v) {
                let (uw, ut) = (best_weight[u as usize], best_top[u as usize]);
                if ut != NONE && better(uw, ut, w, t) {
                    (w, t) = (uw, ut);
                }
            }
            let vi = v as usize;
            if shipped[vi] {
                previous[vi] = t;
                best_weight[vi] = w.saturating_add(weights[vi]);
                best_top[vi] = v;
            } else {
                best_weight[vi] = w;
                best_top[vi] = t;
            }
        }
        let (mut weight, mut end) = (0u64, NONE);
        for v in 0..n {
            if shipped[v] && better(best_weight[v], v as u32, weight, end) {
                (weight, end) = (best_weight[v], v as u32);
            }
        }
        let mut path = Vec::new();
        while end != NONE {
            path.push(end);
            end = previous[end as usize];
        }
        path.reverse();
        (path, weight)
    }

    /// Every node that transitively depends on `node`, ascending; BFS over the reverse
    /// index, O(reach) time and memory.
    pub fn transitive_dependents(&self, node: u32) -> Vec<u32> {
        let mut seen: HashSet<u32, BuildHasherDefault<FxHasher>> = HashSet::default();
        let mut queue = VecDeque::new();
        queue.push_back(node);
        while let Some(u) = queue.pop_front() {
            for &w in self.dependents.row(u) {
                if seen.insert(w) {
                    queue.push_back(w);
                }
            }
        }
        // A cycle through `node` would make it its own dependent; a blast radius lists others.
        seen.remove(&node);
        let mut out: Vec<u32> = seen.into_iter().collect();
        out.sort_unstable();
        out
    }

    /// A dependency cycle, when there is one (see [`GraphError::Cycle`] for its shape).
    pub fn find_cycle(&self) -> Option<Vec<u32>> {
        match self.topological_order() {
            Err(GraphError::Cycle { path }) => Some(path),
            _ => None,
        }
    }

    fn check_len(&self, len: usize) -> Result<(), GraphError> {
        if len == self.node_count {
            Ok(())
        } else {
            Err(GraphError::LengthMismatch {
                len,
                node_count: self.node_count,
            })
        }
    }

    /// A shortest cycle through the smallest node of the cyclic strongly connected component
    /// with the smallest node, among the nodes Kahn's algorithm could not order. Runs only on
    /// the error path, so it may allocate freely.
    fn cycle_among(&self, done: &[bool]) -> Vec<u32> {
        let remaining: Vec<u32> = (0..self.node_count as u32)
            .filter(|&v| !done[v as usize])
            .collect();
        let mut graph: DiGraph<u32, ()> = DiGraph::with_capacity(remaining.len(), 0);
        let mut local = vec![NodeIndex::end(); self.node_count];
        for &v in &remaining {
            local[v as usize] = graph.add_node(v);
        }
        for &v in &remaining {
            let mut deps: Vec<u32> = self
                .dependencies
                .row(v)
                .iter()
                .copied()
                .filter(|&u| !done[u as usize])
                .collect();
            deps.sort_unstable();
            deps.dedup();
            for u in deps {
                graph.add_edge(local[v as usize], local[u as usize], ());
            }
        }
        let cyclic = tarjan_scc(&graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || scc.iter().any(|&x| graph.contains_edge(x, x)));
        let Some(scc) = cyclic
            .map(|scc| {
                let mut members: Vec<u32> = scc.iter().map(|&x| graph[x]).collect();
                members.sort_unstable();
                members
            })
            .min_by_key(|members| members.first().copied())
        else {
            // Kahn left nodes unordered, so some of them form a cycle; unreachable in practice.
            return remaining;
        };
        let start = scc[0];
        // BFS from `start` inside the SCC, along dependencies, back to `start`.
        let mut parent: Vec<u32> = vec![u32::MAX; self.node_count];
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            let mut deps: Vec<u32> = self.dependencies.row(u).to_vec();
            deps.sort_unstable();
            for w in deps {
                if w == start {
                    let mut path = vec![start];
                    let mut x = u;
                    while x != start {
                        path.push(x);
                        x = parent[x as usize];
                    }
                    path.push(start);
                    // Collected backwards from the closing edge; put it in edge order.
                    path.reverse();
                    return path;
                }
                if scc.binary_search(&w).is_ok() && parent[w as usize] == u32::MAX {
                    parent[w as usize] = u;
                    queue.push_back(w);
                }
            }
        }
        scc
    }
}

/// Nodes grouped into consecutive waves: flat node list plus offsets, so no per-wave `Vec`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Waves {
    /// `offsets[k]..offsets[k + 1]` is wave `k`'s range in `nodes`; `len == waves + 1`.
    offsets: Vec<u32>,
    nodes: Vec<u32>,
}

impl Waves {
    /// Number of waves.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when there are no waves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The nodes of wave `k` (empty when there is no such wave).
    pub fn wave(&self, k: usize) -> &[u32] {
        match (self.offsets.get(k), self.offsets.get(k + 1)) {
            (Some(&start), Some(&end)) => &self.nodes[start as usize..end as usize],
            _ => &[],
        }
    }

    /// The waves in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        (0..self.len()).map(|k| self.wave(k))
    }

    /// Every node in deployment order (wave by wave).
    pub fn nodes(&self) -> &[u32] {
        &self.nodes
    }

    /// Splits every wave of more than `cap` nodes into consecutive waves of at most `cap`,
    /// keeping the order.
    pub fn split(&self, cap: NonZeroU32) -> Self {
        let cap = cap.get();
        let mut offsets = Vec::with_capacity(self.offsets.len());
        offsets.push(0);
        for pair in self.offsets.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            let mut at = start;
            while end - at > cap {
                at += cap;
                offsets.push(at);
            }
            offsets.push(end);
        }
        if self.offsets.is_empty() {
            offsets.clear();
        }
        Self {
            offsets,
            nodes: self.nodes.clone(),
        }
    }

    /// The rollback order: waves last to first, and nodes within a wave reversed — the
    /// flattened deployment order, reversed.
    pub fn reversed(&self) -> Self {
        let total = self.nodes.len() as u32;
        let offsets = self.offsets.iter().rev().map(|&o| total - o).collect();
        let mut nodes = self.nodes.clone();
        nodes.reverse();
        Self { offsets, nodes }
    }
}

/// FxHash (rustc's hasher): fast, not DoS-resistant; the planner hashes ids of a manifest
/// the host already trusts, never attacker-chosen keys at scale.
#[derive(Clone, Copy, Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weak (ids that differ only in their last bytes
        // would share buckets), so finish with SplitMix64's avalanche.
        let mut z = self.hash;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Reusable BFS state for many blast-radius queries on one graph: O(n / 64) words once,
/// then O(reach) per query plus a scan of the bitset's words between the lowest and the
/// highest node reached.
///
/// The visited set is a bitset, so the answer comes out ascending by scanning it instead of
/// sorting the BFS order: for 1,000 shipped components of the 100,000-component bench
/// (1.9 million dependents in all) the sort and the collect's reallocations were 60 % of
/// the instructions of the whole plan (callgrind, issue #10). Reading a word clears it, so
/// the set is empty again for the next query.
pub(crate) struct Reach {
    seen: Vec<u64>,
    queue: Vec<u32>,
}

impl Reach {
    pub(crate) fn new(graph: &DependencyGraph) -> Self {
        Self {
            seen: vec![0; graph.node_count.div_ceil(64)],
            queue: Vec::new(),
        }
    }

    /// Same answer as [`DependencyGraph::transitive_dependents`].
    pub(crate) fn dependents(&mut self, graph: &DependencyGraph, node: u32) -> Vec<u32> {
        self.queue.clear();
        self.queue.push(node);
        let (mut low, mut high) = (usize::MAX, 0usize);
        let mut head = 0;
        while let Some(&u) = self.queue.get(head) {
            head += 1;
            for &w in graph.dependents.row(u) {
                let (word, bit) = (w as usize / 64, 1u64 << (w % 64));
                if let Some(bits) = self.seen.get_mut(word)
                    && *bits & bit == 0
                {
                    *bits |= bit;
                    self.queue.push(w);
                    low = low.min(word);
                    high = high.max(word);
                }
            }
        }
        let mut out: Vec<u32> = Vec::with_capacity(self.queue.len());
        if let Some(words) = self.seen.get_mut(low..=high) {
            for (i, word) in words.iter_mut().enumerate() {
                let base = ((low + i) * 64) as u32;
                let mut bits = std::mem::take(word);
                while bits != 0 {
                    let v = base + bits.trailing_zeros();
                    // A cycle through `node` would make it its own dependent; a blast
                    // radius lists others.
                    if v != node {
                        out.push(v);
                    }
                    bits &= bits - 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(u32, u32)]) -> DependencyGraph {
        DependencyGraph::from_edges(n, edges).expect("valid test graph")
    }

    #[test]
    fn waves_are_levels_in_index_order() {
        // 2 → 0, 3 → 1, 3 → 2, 1 → 0
        let g = graph(4, &[(2, 0), (3, 1), (3, 2), (1, 0)]);
        let waves = g.waves().expect("acyclic");
        let got: Vec<&[u32]> = waves.iter().collect();
        assert_eq!(got, vec![&[0][..], &[1, 2][..], &[3][..]]);
    }

    #[test]
    fn unshipped_nodes_still_order_transitively() {
        // 0 depends on 1 depends on 2; only 0 and 2 ship.
        let g = graph(3, &[(0, 1), (1, 2)]);
        let waves = g.waves_of(&[true, false, true]).expect("acyclic");
        let got: Vec<&[u32]> = waves.iter().collect();
        assert_eq!(got, vec![&[2][..], &[0][..]]);
    }

    #[test]
    fn split_and_reverse() {
        let g = graph(5, &[(4, 0)]);
        let waves = g.waves().expect("acyclic");
        let split = waves.split(NonZeroU32::new(2).expect("2 is not zero"));
        let got: Vec<&[u32]> = split.iter().collect();
        assert_eq!(got, vec![&[0, 1][..], &[2, 3][..], &[4][..]]);
        let reversed = split.reversed();
        let back: Vec<&[u32]> = reversed.iter().collect();
        assert_eq!(back, vec![&[4][..], &[3, 2][..], &[1, 0][..]]);
    }

    #[test]
    fn cycle_is_a_real_closed_path() {
        let g = graph(4, &[(0, 1), (1, 2), (2, 0), (3, 0)]);
        assert_eq!(g.find_cycle(), Some(vec![0, 1, 2, 0]));
        let self_loop = graph(2, &[(1, 1)]);
        assert_eq!(self_loop.find_cycle(), Some(vec![1, 1]));
    }

    #[test]
    fn out_of_range_edge_is_refused() {
        let err = DependencyGraph::from_edges(2, &[(0, 5)]).expect_err("5 is out of range");
        assert!(matches!(
            err,
            GraphError::NodeOutOfRange { dependency: 5, .. }
        ));
    }

    #[test]
    fn critical_path_skips_unshipped_nodes() {
        // 0 → 1 → 2 (0 depends on 1 ...), 3 → 2; only 0, 2, 3 ship.
        let g = graph(4, &[(0, 1), (1, 2), (3, 2)]);
        let (path, weight) = g
            .critical_path(&[true, false, true, true], &[5, 100, 1, 2])
            .expect("acyclic");
        assert_eq!(path, vec![2, 0]);
        assert_eq!(weight, 6);
    }

    /// A seeded pseudo-random DAG (edges from higher to lower index, duplicates allowed),
    /// listed by ascending dependent as the planner resolves them.
    fn random_rows(n: u32, per_node: u32, seed: u64) -> Vec<(u32, u32)> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut edges = Vec::new();
        for v in 1..n {
            for _ in 0..(next() % u64::from(per_node + 1)) {
                edges.push((v, (next() % u64::from(v)) as u32));
            }
        }
        edges
    }

    fn rows_of(n: usize, edges: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
        let mut offsets = vec![0u32];
        let mut targets = Vec::new();
        for v in 0..n as u32 {
            targets.extend(edges.iter().filter(|e| e.0 == v).map(|e| e.1));
            offsets.push(targets.len() as u32);
        }
        (offsets, targets)
    }

    #[test]
    fn dependency_rows_build_the_same_graph_as_edges() {
        for seed in 0..20 {
            let edges = random_rows(200, 4, seed);
            let (offsets, targets) = rows_of(200, &edges);
            let from_rows =
                DependencyGraph::from_dependency_rows(offsets, targets).expect("valid rows");
            assert_eq!(from_rows, graph(200, &edges), "seed {seed}");
        }
        assert!(matches!(
            DependencyGraph::from_dependency_rows(vec![0, 1], vec![3]),
            Err(GraphError::NodeOutOfRange { dependency: 3, .. })
        ));
        assert!(matches!(
            DependencyGraph::from_dependency_rows(vec![0, 2], vec![0]),
            Err(GraphError::LengthMismatch { .. })
        ));
    }

    /// The planner's single pass gives what the two separate passes give.
    #[test]
    fn single_pass_matches_levels_then_critical_path() {
        for seed in 0..40 {
            let n = 300;
            let g = graph(n, &random_rows(n as u32, 3, seed));
            let shipped: Vec<bool> = (0..n)
                .map(|v| !(v as u64 * 7 + seed).is_multiple_of(3))
                .collect();
            // Few distinct weights, so ties (broken by the smaller index) are common.
            let weights: Vec<u64> = (0..n).map(|v| ((v as u64 * 13 + seed) % 4) * 10).collect();
            let (order, level) = g.order_and_levels(Some(&shipped)).expect("acyclic");
            let (path, weight) = g.critical_path_in_order(&order, &shipped, &weights);
            let (level2, path2, weight2) = g
                .levels_and_critical_path(&shipped, &weights)
                .expect("acyclic");
            assert_eq!(
                (level2, path2, weight2),
                (level, path, weight),
                "seed {seed}"
            );
        }
        let cyclic = graph(3, &[(0, 1), (1, 0), (2, 0)]);
        assert_eq!(
            cyclic.levels_and_critical_path(&[true; 3], &[1; 3]),
            Err(GraphError::Cycle {
                path: vec![0, 1, 0]
            })
        );
        assert!(matches!(
            cyclic.levels_and_critical_path(&[true; 2], &[1; 3]),
            Err(GraphError::LengthMismatch { len: 2, .. })
        ));
    }

    #[test]
    fn transitive_dependents_by_bfs() {
        let g = graph(5, &[(1, 0), (2, 1), (3, 1), (0, 3)]);
        assert_eq!(g.transitive_dependents(0), vec![1, 2, 3]);
        assert_eq!(g.transitive_dependents(4), Vec::<u32>::new());
        let mut reach = Reach::new(&g);
        for v in 0..5 {
            assert_eq!(reach.dependents(&g, v), g.transitive_dependents(v));
        }
        // Reused across queries on bigger graphs, with and without cycles, nodes past 64.
        for seed in 0..10 {
            let n = 300;
            let mut edges = random_rows(n as u32, 3, seed);
            if seed % 2 == 1 {
                edges.extend([(0, 299), (150, 290)]);
            }
            let g = graph(n, &edges);
            let mut reach = Reach::new(&g);
            for v in (0..n as u32).rev().chain(0..n as u32) {
                assert_eq!(
                    reach.dependents(&g, v),
                    g.transitive_dependents(v),
                    "{seed} {v}"
                );
            }
        }
    }
}
