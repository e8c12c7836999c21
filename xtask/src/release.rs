//! `cargo xtask release <version> [--dry-run]`.
//!
//! Bumps every crate's version and the internal dependency versions
//! together, moves the `Unreleased` section of `CHANGELOG.md` under the
//! version, runs `cargo package` for every publishable crate, then publishes
//! them leaves first (dependency order from `cargo metadata`) and tags
//! `v<version>`. `--dry-run` does everything but publish and tag.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// `1.2.3` or `1.2.3-rc.1`.
pub fn valid_version(v: &str) -> bool {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    nums.len() == 3
        && nums.iter().all(|n| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        })
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
}

/// The root manifest with `[workspace.package] version` and every internal
/// `prela*` workspace dependency set to `version`.
pub fn bump_manifest(manifest: &str, version: &str) -> Result<String, String> {
    let mut out = String::with_capacity(manifest.len());
    let mut section = String::new();
    let (mut package_done, mut deps) = (false, 0);
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.to_owned();
        }
        let mut line = line.to_owned();
        if section == "[workspace.package]" && t.starts_with("version") && t.contains('=') {
            line = format!("version = \"{version}\"");
            package_done = true;
        } else if section == "[workspace.dependencies]"
            && t.starts_with("prela")
            && t.contains("path =")
            && t.contains("version = \"")
        {
            // Unversioned internal crates (publish = false, test-only) are left as they are.
            let start = line
                .find("version = \"")
                .ok_or_else(|| format!("no version in: {t}"))?
                + "version = \"".len();
            let end = start
                + line[start..]
                    .find('"')
                    .ok_or_else(|| format!("unterminated version in: {t}"))?;
            line.replace_range(start..end, version);
            deps += 1;
        }
        out.push_str(&line);
        out.push('\n');
    }
    if !package_done || deps == 0 {
        return Err(
            "Cargo.toml: no [workspace.package] version or no internal dependencies to bump".into(),
        );
    }
    Ok(out)
}

fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The changelog with the `## Unreleased` section's entries moved under
/// `## <version> - <date>`, leaving an empty `## Unreleased`.
pub fn move_unreleased(changelog: &str, version: &str, date: &str) -> Result<String, String> {
    let marker = "## Unreleased";
    let start = changelog
        .find(marker)
        .ok_or("CHANGELOG.md has no `## Unreleased` section")?;
    let body_start = start + marker.len();
    let body_end = changelog[body_start..]
        .find("\n## ")
        .map_or(changelog.len(), |i| body_start + i + 1);
    let body = changelog[body_start..body_end].trim();
    if body.is_empty() {
        return Err(
            "CHANGELOG.md: the Unreleased section is empty; say what this release changes".into(),
        );
    }
    Ok(format!(
        "{}{marker}\n\n## {version} - {date}\n\n{body}\n\n{}",
        &changelog[..start],
        &changelog[body_end..]
    )
    .trim_end()
    .to_owned()
        + "\n")
}

/// Publishable workspace crates, leaves first.
pub fn publish_order(root: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let publishable: BTreeSet<String> = packages
        .iter()
        .filter(|p| !p["publish"].as_array().is_some_and(|a| a.is_empty()))
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in packages {
        let Some(name) = p["name"].as_str().filter(|n| publishable.contains(*n)) else {
            continue;
        };
        let d = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null() || d["kind"] == "build")
            .filter_map(|d| d["name"].as_str())
            .filter(|d| publishable.contains(*d))
            .map(str::to_owned)
            .collect();
        deps.insert(name.to_owned(), d);
    }
    let mut order = Vec::new();
    while !deps.is_empty() {
        let ready: Vec<String> = deps
            .iter()
            .filter(|(_, d)| d.iter().all(|x| order.contains(x)))
            .map(|(n, _)| n.clone())
            .collect();
        if ready.is_empty() {
            return Err(format!(
                "dependency cycle among {:?}",
                deps.keys().collect::<Vec<_>>()
            ));
        }
        for n in ready {
            deps.remove(&n);
            order.push(n);
        }
    }
    Ok(order)
}

fn cargo_in(root: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

/// Runs the release in `root`.
pub fn run_at(root: &Path, version: &str, dry_run: bool) -> Result<Vec<String>, String> {
    if !valid_version(version) {
        return Err(format!(
            "invalid version {version:?}: expected MAJOR.MINOR.PATCH, e.g. 0.2.0 or 1.0.0-rc.1"
        ));
    }
    let manifest_path = root.join("Cargo.toml");
    let manifest =
        std::fs::read_to_string(&manifest_path).map_err(|e| format!("Cargo.toml: {e}"))?;
    std::fs::write(&manifest_path, bump_manifest(&manifest, version)?)
        .map_err(|e| format!("Cargo.toml: {e}"))?;
    let changelog_path = root.join("CHANGELOG.md");
    let changelog =
        std::fs::read_to_string(&changelog_path).map_err(|e| format!("CHANGELOG.md: {e}"))?;
    std::fs::write(
        &changelog_path,
        move_unreleased(&changelog, version, &today())?,
    )
    .map_err(|e| format!("CHANGELOG.md: {e}"))?;
    let order = publish_order(root)?;
    println!("release {version}: publish order {}", order.join(" -> "));
    // Packages every publishable crate; unpublished workspace dependencies
    // resolve from the local packages, as they will from crates.io.
    let mut args = vec!["package", "--no-verify", "--allow-dirty"];
    for p in &order {
        args.push("-p");
        args.push(p);
    }
    cargo_in(root, &args)?;
    if dry_run {
        println!("dry run: not publishing, not tagging");
        return Ok(order);
    }
    for p in &order {
        cargo_in(root, &["publish", "-p", p])?;
    }
    let tag = format!("v{version}");
    let status = Command::new("git")
        .args(["tag", "-a", &tag, "-m", &format!("prela {version}")])
        .current_dir(root)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        return Err(format!("published, but `git tag {tag}` failed"));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["0.1.0", "1.2.3", "10.0.0-rc.1", "0.2.0-alpha"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", "1.2", "1.2.3.4", "01.2.3", "v1.2.3", "1.2.3-", "1.2.x"] {
            assert!(!valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn manifest_bump() {
        let m = "[workspace.package]\nversion = \"0.1.0\"\n\n[workspace.dependencies]\nprela-core = { path = \"crates/core\", version = \"0.1.0\", default-features = false }\nserde = { version = \"1.0.200\" }\n";
        let b = bump_manifest(m, "0.2.0").unwrap();
        assert!(b.contains("version = \"0.2.0\"\n"));
        assert!(b.contains("prela-core = { path = \"crates/core\", version = \"0.2.0\""));
        assert!(
            b.contains("serde = { version = \"1.0.200\" }"),
            "external versions untouched"
        );
    }

    #[test]
    fn changelog_move() {
        let c = "# Changelog\n\n## Unreleased\n\n- Added X.\n\n## 0.1.0 - 2026-01-01\n\n- First.\n";
        let m = move_unreleased(c, "0.2.0", "2026-11-22").unwrap();
        assert_eq!(
            m,
            "# Changelog\n\n## Unreleased\n\n## 0.2.0 - 2026-11-22\n\n- Added X.\n\n## 0.1.0 - 2026-01-01\n\n- First.\n"
        );
        assert!(move_unreleased("# Changelog\n\n## Unreleased\n\n", "0.2.0", "d").is_err());
        assert!(move_unreleased("# Changelog\n", "0.2.0", "d").is_err());
    }
}
