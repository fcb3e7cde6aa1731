//! A form's state, shared by the consoles' pages: the values a form shows (the saved settings,
//! or exactly what the user submitted) and the errors of its fields. It renders each select,
//! checkbox and text field (`select.html`, `check.html`, `text.html`) with its value, and a bad
//! field marked: `aria-invalid`, its message beside it (linked by `aria-describedby`), and a
//! summary at the top of the page linking to it (`error_summary.html`).

use std::cell::RefCell;

use super::Choice;

/// A form, as name/value pairs in the order sent; an unchecked checkbox is simply absent.
pub(super) type Fields = Vec<(String, String)>;

/// The value of the field `name`, or `""`.
pub(super) fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// What is wrong with a form: the form field it belongs to (`None`: the form as a whole), the
/// path of the setting in the API's terms (`user.mobile`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FieldError {
    pub field: Option<&'static str>,
    pub path: String,
    pub message: String,
}

/// One line of the summary at the top of a page whose form was refused.
pub(super) struct SummaryItem {
    /// The control's id, to link to; `None` for an error of the whole form.
    pub target: Option<String>,
    pub label: String,
    pub path: String,
    pub message: String,
}

/// The values a form shows, and its errors.
pub(super) struct FormState {
    fields: Fields,
    errors: Vec<FieldError>,
    /// The label of each field rendered so far, for the summary.
    labels: RefCell<Vec<(&'static str, &'static str)>>,
}

/// The id of the control of the field `name`: what the summary links to.
pub(super) fn control_id(name: &str) -> String {
    format!("f-{name}")
}

impl FormState {
    /// The form showing `fields` (the saved settings as a form, or what was submitted), with
    /// `errors`.
    pub fn new(fields: Fields, errors: Vec<FieldError>) -> Self {
        FormState {
            fields,
            errors,
            labels: RefCell::default(),
        }
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn value(&self, name: &str) -> &str {
        field(&self.fields, name)
    }

    pub fn checked(&self, name: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == name)
    }

    /// The message of the field's first error.
    fn error(&self, name: &'static str) -> Option<String> {
        self.errors
            .iter()
            .find(|e| e.field == Some(name))
            .map(|e| e.message.clone())
    }

    fn register(&self, name: &'static str, label: &'static str) {
        self.labels.borrow_mut().push((name, label));
    }

    /// A `<select>` of `choices` (value, words), the form's value selected.
    pub fn select(
        &self,
        name: &'static str,
        label: &'static str,
        gloss: &'static str,
        choices: Vec<(String, String)>,
    ) -> SelectView {
        self.register(name, label);
        let current = self.value(name);
        let options: Vec<Choice> = choices
            .into_iter()
            .map(|(value, label)| Choice {
                selected: value == current,
                value,
                label,
            })
            .collect();
        SelectView::new(name, label, gloss, options, self.error(name))
    }

    pub fn check(&self, name: &'static str, label: &'static str, gloss: &'static str) -> CheckView {
        self.register(name, label);
        CheckView {
            name,
            label,
            gloss,
            checked: self.checked(name),
            error: self.error(name),
        }
    }

    /// A one-line text field; `attributes` (from the code, never from a request) are added to
    /// the `<input>` as they are: `type="number" min="1"`.
    pub fn text(
        &self,
        name: &'static str,
        label: &'static str,
        gloss: &'static str,
        attributes: &'static str,
    ) -> TextView {
        self.register(name, label);
        TextView {
            name,
            label,
            gloss,
            value: self.value(name).to_string(),
            attributes: if attributes.contains("type=") {
                attributes.to_string()
            } else {
                format!("type=\"text\" {attributes}").trim_end().to_string()
            },
            error: self.error(name),
        }
    }

    /// The errors, each with its field's label and a link to it, for the page's top.
    pub fn summary(&self) -> Vec<SummaryItem> {
        let labels = self.labels.borrow();
        self.errors
            .iter()
            .map(|error| {
                let label = error
                    .field
                    .and_then(|name| labels.iter().find(|(n, _)| *n == name))
                    .map(|(_, label)| *label);
                SummaryItem {
                    target: label.and(error.field).map(control_id),
                    label: label.unwrap_or("The form").to_string(),
                    path: error.path.clone(),
                    message: error.message.clone(),
                }
            })
            .collect()
    }

    /// The label of each field named, in the order given; unknown names as they are.
    pub fn labels_of(&self, names: &[&'static str]) -> Vec<&'static str> {
        let labels = self.labels.borrow();
        names
            .iter()
            .map(|name| {
                labels
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(*name, |(_, label)| *label)
            })
            .collect()
    }
}

/// A select, as `select.html` renders it.
pub(super) struct SelectView {
    pub name: &'static str,
    pub label: &'static str,
    pub gloss: &'static str,
    pub options: Vec<Choice>,
    /// The words of the chosen option, whole: the select's `title`, and shown under the select
    /// when they may be too long to read in it (`chosen_long`). `long`: some option may be.
    pub chosen: String,
    pub long: bool,
    pub chosen_long: bool,
    pub error: Option<String>,
}

/// Options wider than this may not fit a select of a phone-wide or three-column form: their
/// words are shown under it. `console.js` has the same measure.
const LONG_OPTION: usize = 30;

/// About how wide a text is, in Latin letters: a CJK character is two.
pub(super) fn text_width(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

impl SelectView {
    pub fn new(
        name: &'static str,
        label: &'static str,
        gloss: &'static str,
        options: Vec<Choice>,
        error: Option<String>,
    ) -> Self {
        let chosen = options
            .iter()
            .find(|o| o.selected)
            .or(options.first())
            .map(|o| o.label.clone())
            .unwrap_or_default();
        let long = options.iter().any(|o| text_width(&o.label) > LONG_OPTION);
        SelectView {
            name,
            label,
            gloss,
            options,
            chosen_long: text_width(&chosen) > LONG_OPTION,
            chosen,
            long,
            error,
        }
    }
}

pub(super) struct CheckView {
    pub name: &'static str,
    pub label: &'static str,
    pub gloss: &'static str,
    pub checked: bool,
    pub error: Option<String>,
}

pub(super) struct TextView {
    pub name: &'static str,
    pub label: &'static str,
    pub gloss: &'static str,
    pub value: String,
    pub attributes: String,
    pub error: Option<String>,
}
