//! Tests for service-name matching and node-semver range normalization.

use super::*;

fn b(x: &'static str) -> Bytes {
  Bytes::from_static(x.as_bytes())
}

fn names(r: &Arc<[Bytes]>) -> Vec<&str> {
  r.iter().map(|n| std::str::from_utf8(n).unwrap()).collect()
}

fn satisfies(range: &str, version: &str) -> bool {
  Range::parse(range)
    .unwrap()
    .matches(&Version::parse(version).unwrap())
}

#[test]
fn names_are_classified_by_shape() {
  assert_eq!(classify(b"echo"), Pattern::Exact);
  assert_eq!(classify(b"ec*"), Pattern::Wildcard);
  assert_eq!(classify(b"*"), Pattern::Wildcard);
  assert_eq!(
    classify(b"calc@1.2.3"),
    Pattern::Semver(Version::new(1, 2, 3))
  );
  assert_eq!(
    classify(b"calc@v1.2.3"),
    Pattern::Semver(Version::new(1, 2, 3))
  );
  assert_eq!(classify(b"calc@latest"), Pattern::Exact);
  assert_eq!(classify(b"@1.2.3"), Pattern::Exact);
  assert_eq!(classify(b"user@host"), Pattern::Exact);
}

#[test]
fn exact_names_are_not_kept_by_the_router() {
  let mut r = Router::new();
  assert!(!r.register(&b("echo")));
  assert!(r.is_empty());
  assert!(r.resolve(&b("echo")).is_empty());
}

#[test]
fn wildcard_matches_by_prefix_and_longest_prefix_wins() {
  let mut r = Router::new();
  r.register(&b("e*"));
  r.register(&b("ech*"));
  r.register(&b("x*"));
  assert_eq!(names(&r.resolve(&b("echo"))), ["ech*"]);
  assert_eq!(names(&r.resolve(&b("eagle"))), ["e*"]);
  assert!(r.resolve(&b("zebra")).is_empty());
  r.unregister(&b("ech*"));
  assert_eq!(names(&r.resolve(&b("echo"))), ["e*"]);
}

#[test]
fn empty_prefix_wildcard_matches_everything() {
  let mut r = Router::new();
  r.register(&b("*"));
  assert_eq!(names(&r.resolve(&b("anything"))), ["*"]);
}

#[test]
fn versioned_workers_serve_satisfied_ranges_highest_first() {
  let mut r = Router::new();
  r.register(&b("calc@1.2.3"));
  r.register(&b("calc@1.4.0"));
  r.register(&b("calc@2.0.0"));
  assert_eq!(
    names(&r.resolve(&b("calc@^1.2.x"))),
    ["calc@1.4.0", "calc@1.2.3"]
  );
  assert_eq!(names(&r.resolve(&b("calc@~1.2"))), ["calc@1.2.3"]);
  assert_eq!(
    names(&r.resolve(&b("calc@1.x"))),
    ["calc@1.4.0", "calc@1.2.3"]
  );
  assert_eq!(names(&r.resolve(&b("calc@>=2"))), ["calc@2.0.0"]);
  assert_eq!(names(&r.resolve(&b("calc@*"))).len(), 3);
  assert!(r.resolve(&b("calc@^3")).is_empty());
  assert!(r.resolve(&b("other@^1")).is_empty());
  assert!(r.resolve(&b("calc@not a range")).is_empty());
}

#[test]
fn unregistering_a_version_updates_cached_resolutions() {
  let mut r = Router::new();
  r.register(&b("calc@1.2.3"));
  assert_eq!(names(&r.resolve(&b("calc@^1"))), ["calc@1.2.3"]);
  r.unregister(&b("calc@1.2.3"));
  assert!(r.resolve(&b("calc@^1")).is_empty());
  assert!(r.is_empty());
}

#[test]
fn semver_match_is_preferred_over_wildcard() {
  let mut r = Router::new();
  r.register(&b("calc*"));
  r.register(&b("calc@1.0.0"));
  assert_eq!(names(&r.resolve(&b("calc@^1"))), ["calc@1.0.0"]);
  assert_eq!(names(&r.resolve(&b("calc@^2"))), ["calc*"]);
}

#[test]
fn node_semver_ranges_are_normalized() {
  assert!(satisfies("^1.2.x", "1.9.0"));
  assert!(!satisfies("^1.2.x", "1.1.9"));
  assert!(!satisfies("^1.2.x", "2.0.0"));
  assert!(satisfies("~1.2", "1.2.9"));
  assert!(!satisfies("~1.2", "1.3.0"));
  assert!(satisfies("1.x", "1.0.0"));
  assert!(!satisfies("1.x", "2.0.0"));
  assert!(satisfies("1.2.3", "1.2.3"));
  assert!(!satisfies("1.2.3", "1.2.4"));
  assert!(satisfies("1.2", "1.2.7"));
  assert!(satisfies(">=1.0.0 <2.0.0", "1.5.0"));
  assert!(!satisfies(">=1.0.0 <2.0.0", "2.0.0"));
  assert!(satisfies(">= 1.0.0", "1.0.0"));
  assert!(satisfies("1.2.3 - 2.3", "2.3.9"));
  assert!(!satisfies("1.2.3 - 2.3", "2.4.0"));
  assert!(satisfies("^1 || ^3", "3.1.0"));
  assert!(!satisfies("^1 || ^3", "2.1.0"));
  assert!(satisfies("", "9.9.9"));
  assert!(satisfies("x", "0.0.1"));
  assert!(satisfies("v1.2.3", "1.2.3"));
  assert!(Range::parse(">=").is_none());
  assert!(Range::parse("abc").is_none());
}
