//! Paging and search parameters of list endpoints (the DataTables convention of the
//! PassBy[ME] API: `start`, `length`, `search[value]`).

/// Largest page a caller may ask for; bigger exports go through the streamed reports.
pub const MAX_PAGE_LENGTH: i64 = 10_000;
/// Largest `start` a caller may ask for: far beyond any real list, and small enough that
/// `start + length` (and every page arithmetic after it) can never overflow.
pub const MAX_START: i64 = 1_000_000_000;
/// Page length when the caller gives none.
pub const DEFAULT_PAGE_LENGTH: i64 = 1_000;

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Number of records to skip.
    pub start: i64,
    /// Maximum number of records to return.
    pub length: i64,
    /// Free-text filter; `None` when absent or empty.
    pub search: Option<String>,
}

/// A paging parameter out of range; names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct InvalidPage {
    /// The offending parameter as the caller wrote it.
    pub field: &'static str,
    /// The rule it broke.
    pub rule: String,
}

impl PageRequest {
    /// Validates raw parameters: `start` ≥ 0, 1 ≤ `length` ≤ [`MAX_PAGE_LENGTH`]; an empty
    /// search counts as none.
    pub fn new(
        start: Option<i64>,
        length: Option<i64>,
        search: Option<String>,
    ) -> Result<Self, InvalidPage> {
        let start = start.unwrap_or(0);
        if !(0..=MAX_START).contains(&start) {
            return Err(InvalidPage {
                field: "start",
                rule: format!("must be between 0 and {MAX_START}"),
            });
        }
        let length = length.unwrap_or(DEFAULT_PAGE_LENGTH);
        if !(1..=MAX_PAGE_LENGTH).contains(&length) {
            return Err(InvalidPage {
                field: "length",
                rule: format!("must be between 1 and {MAX_PAGE_LENGTH}"),
            });
        }
        let search = search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Ok(Self {
            start,
            length,
            search,
        })
    }

    /// The search text as a case-insensitive SQL `LIKE` pattern with `\` as the escape
    /// character, or `None` when there is no search.
    pub fn like_pattern(&self) -> Option<String> {
        self.search.as_ref().map(|s| like_contains(s))
    }
}

/// `%text%` with `%`, `_` and `\` escaped by `\`, lower-cased for comparison with `lower(col)`.
pub fn like_contains(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A page of results with the DataTables totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The records of this page.
    pub data: Vec<T>,
    /// Records before filtering.
    pub records_total: i64,
    /// Records after filtering.
    pub records_filtered: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let p = PageRequest::new(None, None, Some("  ".into())).expect("valid");
        assert_eq!(
            (p.start, p.length, p.search),
            (0, DEFAULT_PAGE_LENGTH, None)
        );
        assert_eq!(
            PageRequest::new(Some(-1), None, None).map_err(|e| e.field),
            Err("start")
        );
        assert_eq!(
            PageRequest::new(None, Some(0), None).map_err(|e| e.field),
            Err("length")
        );
        assert_eq!(
            PageRequest::new(None, Some(MAX_PAGE_LENGTH + 1), None).map_err(|e| e.field),
            Err("length")
        );
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_contains("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
