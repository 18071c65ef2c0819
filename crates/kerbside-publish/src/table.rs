//! A table of the package: its columns (a Frictionless Table Schema) and its cells,
//! written as CSV.

use std::borrow::Cow;

use serde_json::{Value, json};

/// The marker of a suppressed cell (ONS's "confidential"), one of the schema's
/// `missingValues`.
pub const SUPPRESSED: &str = "[c]";

/// A column's type, as a Table Schema names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `YYYY-MM-DD`.
    Date,
    /// A whole number.
    Integer,
    /// A decimal number.
    Number,
    /// Text.
    String,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Date => "date",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::String => "string",
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name in the CSV header.
    pub name: &'static str,
    /// Its type.
    pub kind: Type,
    /// What it holds.
    pub description: Cow<'static, str>,
    /// Its unit, if it has one (`µg/m³`, `km/h`, …).
    pub unit: Option<&'static str>,
    /// Whether a cell may be empty (a value not measured) or suppressed.
    pub optional: bool,
}

impl Column {
    /// A column that always has a value.
    pub fn required(
        name: &'static str,
        kind: Type,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            name,
            kind,
            description: description.into(),
            unit: None,
            optional: false,
        }
    }

    /// A column whose cells may be empty or suppressed.
    pub fn optional(
        name: &'static str,
        kind: Type,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            optional: true,
            ..Self::required(name, kind, description)
        }
    }

    /// With a unit.
    pub fn unit(self, unit: &'static str) -> Self {
        Self {
            unit: Some(unit),
            ..self
        }
    }

    fn schema(&self) -> Value {
        let mut f = json!({
            "name": self.name,
            "type": self.kind.as_str(),
            "description": self.description,
        });
        if let Some(u) = self.unit {
            f["unit"] = json!(u);
        }
        let mut constraints = serde_json::Map::new();
        if !self.optional {
            constraints.insert("required".into(), json!(true));
        }
        if matches!(self.kind, Type::Integer | Type::Number) {
            constraints.insert("minimum".into(), json!(0));
        }
        if !constraints.is_empty() {
            f["constraints"] = Value::Object(constraints);
        }
        f
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text (also dates, already formatted).
    Text(String),
    /// A whole number.
    Int(u64),
    /// A number with this many decimals.
    Num(f64, usize),
    /// Not measured: written empty.
    Missing,
    /// Withheld by disclosure control: written [`SUPPRESSED`].
    Suppressed,
}

impl Cell {
    /// A number, or [`Cell::Missing`] if there is none (or it is not finite).
    pub fn num(v: Option<f64>, decimals: usize) -> Self {
        match v {
            Some(v) if v.is_finite() => Cell::Num(v, decimals),
            _ => Cell::Missing,
        }
    }

    fn render(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            // `-0.0` would print as `-0.0`, which a minimum of 0 refuses.
            Cell::Num(v, d) => format!("{:.*}", *d, if *v == 0.0 { 0.0 } else { *v }),
            Cell::Missing => String::new(),
            Cell::Suppressed => SUPPRESSED.to_owned(),
        }
    }
}

/// A table's description: one CSV resource of the package.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The resource name, also the file name (`<name>.csv`).
    pub name: &'static str,
    /// A title for people.
    pub title: &'static str,
    /// What a row is, and how it was worked out.
    pub description: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// The columns that name a row.
    pub primary_key: &'static [&'static str],
}

impl Schema {
    /// The resource's entry in `datapackage.json`.
    pub fn resource(&self) -> Value {
        json!({
            "name": self.name,
            "path": format!("{}.csv", self.name),
            "profile": "tabular-data-resource",
            "title": self.title,
            "description": self.description,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {
                "fields": self.columns.iter().map(Column::schema).collect::<Vec<_>>(),
                "primaryKey": self.primary_key,
                "missingValues": ["", SUPPRESSED],
            },
        })
    }
}

/// One table's CSV as it is written: the header first, then rows as they come.
#[derive(Debug)]
pub struct CsvTable<W: std::io::Write> {
    /// What it is.
    pub schema: Schema,
    writer: csv::Writer<W>,
    /// Rows written.
    pub rows: usize,
    /// Cells written as [`SUPPRESSED`].
    pub withheld: usize,
}

impl<W: std::io::Write> CsvTable<W> {
    /// Starts the table on `out` with its header.
    pub fn new(schema: Schema, out: W) -> std::io::Result<Self> {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(out);
        writer.write_record(schema.columns.iter().map(|c| c.name))?;
        Ok(Self {
            schema,
            writer,
            rows: 0,
            withheld: 0,
        })
    }

    /// Appends `rows`.
    pub fn write(&mut self, rows: &[Vec<Cell>]) -> std::io::Result<()> {
        for row in rows {
            debug_assert_eq!(row.len(), self.schema.columns.len(), "{}", self.schema.name);
            self.withheld += row.iter().filter(|c| **c == Cell::Suppressed).count();
            self.writer.write_record(row.iter().map(Cell::render))?;
        }
        self.rows += rows.len();
        Ok(())
    }

    /// Flushes and hands the output back.
    pub fn finish(self) -> std::io::Result<W> {
        self.writer
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_written_as_the_schema_reads_them() {
        let schema = Schema {
            name: "t",
            title: "T",
            description: String::new(),
            columns: vec![
                Column::required("site", Type::String, "where"),
                Column::optional("pm25", Type::Number, "PM2.5").unit("µg/m³"),
                Column::optional("visitors", Type::Integer, "people"),
            ],
            primary_key: &["site"],
        };
        let mut t = CsvTable::new(schema.clone(), Vec::new()).unwrap();
        t.write(&[
            vec![Cell::Text("a, b".into()), Cell::Num(-0.0, 1), Cell::Int(12)],
            vec![Cell::Text("c".into()), Cell::num(None, 1), Cell::Suppressed],
        ])
        .unwrap();
        assert_eq!((t.rows, t.withheld), (2, 1));
        assert_eq!(
            String::from_utf8(t.finish().unwrap()).unwrap(),
            "site,pm25,visitors\n\"a, b\",0.0,12\nc,,[c]\n"
        );
        let r = schema.resource();
        assert_eq!(r["path"], "t.csv");
        assert_eq!(r["schema"]["missingValues"], json!(["", "[c]"]));
        assert_eq!(r["schema"]["fields"][1]["unit"], "µg/m³");
        assert_eq!(r["schema"]["fields"][0]["constraints"]["required"], true);
    }
}
