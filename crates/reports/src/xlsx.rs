//! `.xlsx` exports: one worksheet, an optional header block (title, context lines), a bold
//! header row, then the rows. Written in constant-memory mode: rows go to a temporary file as
//! they are added, so a large export does not hold every cell in memory.

use crate::ReportError;
use rust_xlsxwriter::{Format, Workbook, Worksheet};

/// An `.xlsx` table being written.
pub struct XlsxTable {
    workbook: Workbook,
    next_row: u32,
    columns: u16,
}

impl std::fmt::Debug for XlsxTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XlsxTable")
            .field("rows", &self.next_row)
            .finish()
    }
}

impl XlsxTable {
    /// A workbook with one sheet named `sheet` whose first lines are `header_block` (e.g. title,
    /// company, date; may be empty), followed by the bold column headers.
    pub fn new(
        sheet: &str,
        header_block: &[String],
        headers: &[&str],
    ) -> Result<Self, ReportError> {
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        let worksheet: &mut Worksheet = workbook.add_worksheet_with_constant_memory()?;
        worksheet.set_name(sheet)?;
        let mut row = 0;
        for line in header_block {
            worksheet.write_string_with_format(row, 0, line, &bold)?;
            row += 1;
        }
        if !header_block.is_empty() {
            row += 1;
        }
        for (col, header) in headers.iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            worksheet.write_string_with_format(row, col, *header, &bold)?;
            worksheet.set_column_width(col, 24)?;
        }
        Ok(Self {
            workbook,
            next_row: row + 1,
            columns: u16::try_from(headers.len()).unwrap_or(u16::MAX),
        })
    }

    /// Appends a row of text cells (extra cells beyond the headers are dropped).
    pub fn row<I, S>(&mut self, cells: I) -> Result<(), ReportError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let worksheet = self.workbook.worksheet_from_index(0)?;
        for (col, cell) in cells
            .into_iter()
            .enumerate()
            .take(usize::from(self.columns))
        {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            worksheet.write_string(self.next_row, col, cell.as_ref())?;
        }
        self.next_row += 1;
        Ok(())
    }

    /// The finished file.
    pub fn finish(mut self) -> Result<Vec<u8>, ReportError> {
        Ok(self.workbook.save_to_buffer()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_zip_with_the_rows() {
        let mut t = XlsxTable::new("Account History", &["Account History".into()], &["A", "B"])
            .expect("new");
        t.row(["1", "x"]).expect("row");
        let bytes = t.finish().expect("finish");
        assert_eq!(&bytes[..2], b"PK");
    }
}
