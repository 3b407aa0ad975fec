//! Streaming report writers shared by every domain's exports.
//!
//! Reports are produced in chunks: a domain walks its table in keyset-paged batches, writes each
//! batch's rows into a [`CsvChunks`], and hands the bytes of the chunk on (to an HTTP response
//! stream or a file) before reading the next batch. Memory stays flat whatever the row count.

use std::io;

pub mod xlsx;

/// Errors of report writers.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing a row failed.
    #[error("cannot write report: {0}")]
    Csv(#[from] csv::Error),
    /// Writing the spreadsheet failed.
    #[error("cannot write spreadsheet: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// The destination refused the bytes (e.g. the HTTP client went away).
    #[error("report destination closed: {0}")]
    Sink(#[from] io::Error),
}

/// A CSV writer that hands out what it has written so far as a chunk of bytes.
///
/// Cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return are prefixed with `'`
/// so that a spreadsheet never evaluates them as formulas (CSV injection), unless the whole cell
/// is a number or a phone-number-like value such as `+36 30 123 4567` or `-12.5`.
#[derive(Debug)]
pub struct CsvChunks {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvChunks {
    /// A writer whose first chunk starts with a UTF-8 byte order mark (so that spreadsheet
    /// programs read accents correctly) and the header row.
    pub fn with_header<I, S>(header: I) -> Result<Self, ReportError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut buffer = Vec::with_capacity(64 * 1024);
        buffer.extend_from_slice("\u{feff}".as_bytes());
        let mut writer = csv::WriterBuilder::new().from_writer(buffer);
        writer.write_record(header.into_iter().map(|h| h.as_ref().to_owned()))?;
        Ok(Self { writer })
    }

    /// Appends a row.
    pub fn row<I, S>(&mut self, cells: I) -> Result<(), ReportError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.writer.write_record(
            cells
                .into_iter()
                .map(|c| neutralize(c.as_ref()).into_owned()),
        )?;
        Ok(())
    }

    /// The bytes written since the last call.
    pub fn take_chunk(&mut self) -> Result<Vec<u8>, ReportError> {
        let full = std::mem::replace(
            &mut self.writer,
            csv::Writer::from_writer(Vec::with_capacity(64 * 1024)),
        );
        full.into_inner()
            .map_err(|e| ReportError::Sink(io::Error::other(e.error().to_string())))
    }
}

fn looks_numeric(cell: &str) -> bool {
    let rest = cell.trim_start_matches(['+', '-']);
    !rest.is_empty()
        && rest.chars().any(|c| c.is_ascii_digit())
        && rest
            .chars()
            .all(|c| c.is_ascii_digit() || " .()/-".contains(c))
}

fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        Some('+' | '-') if !looks_numeric(cell) => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_concatenate_to_one_csv_and_formulas_are_neutralized() {
        let mut csv = CsvChunks::with_header(["a", "b"]).expect("header");
        csv.row(["1", "=cmd()"]).expect("row");
        let first = csv.take_chunk().expect("chunk");
        csv.row(["+36 30 123 4567", "x,\"y\""]).expect("row");
        csv.row(["-2", "-x"]).expect("row");
        let second = csv.take_chunk().expect("chunk");
        let text = String::from_utf8([first, second].concat()).expect("utf8");
        assert_eq!(
            text,
            "\u{feff}a,b\n1,'=cmd()\n+36 30 123 4567,\"x,\"\"y\"\"\"\n-2,'-x\n"
        );
        assert!(csv.take_chunk().expect("empty").is_empty());
    }
}
