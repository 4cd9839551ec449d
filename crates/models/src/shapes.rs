//! A read-only view of an operation's input shapes, for code that walks a call's parameters
//! alongside its model (which resources a call names, synthetic inputs in coverage tests)
//! without depending on the serializers' internal types.

use crate::model::{Operation, ServiceModel, Shape, ShapeType};

/// What kind of value a shape holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeKind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Float,
    Boolean,
    Timestamp,
    Blob,
    /// A document (free JSON) or a type this crate does not know.
    Other,
}

/// One shape of a service model, by name.
#[derive(Debug, Clone, Copy)]
pub struct ShapeView<'a> {
    model: &'a ServiceModel,
    name: &'a str,
    shape: &'a Shape,
}

impl<'a> ShapeView<'a> {
    fn of(model: &'a ServiceModel, name: &'a str) -> Option<Self> {
        let (name, shape) = model.shapes.get_key_value(name)?;
        Some(Self { model, name, shape })
    }

    /// The shape's name in the model (`TableArn`, `InstanceIdStringList`).
    pub fn name(&self) -> &'a str {
        self.name
    }

    pub fn kind(&self) -> ShapeKind {
        if self.shape.document {
            return ShapeKind::Other;
        }
        match self.shape.ty {
            ShapeType::Structure => ShapeKind::Structure,
            ShapeType::List => ShapeKind::List,
            ShapeType::Map => ShapeKind::Map,
            ShapeType::String => ShapeKind::String,
            ShapeType::Integer | ShapeType::Long => ShapeKind::Integer,
            ShapeType::Float | ShapeType::Double => ShapeKind::Float,
            ShapeType::Boolean => ShapeKind::Boolean,
            ShapeType::Timestamp => ShapeKind::Timestamp,
            ShapeType::Blob => ShapeKind::Blob,
            ShapeType::Other => ShapeKind::Other,
        }
    }

    /// A structure's member by exact name.
    pub fn member(&self, name: &str) -> Option<ShapeView<'a>> {
        let r = self.shape.members.get(name)?;
        Self::of(self.model, &r.shape)
    }

    /// A structure's members, sorted by name.
    pub fn members(&self) -> Vec<(&'a str, ShapeView<'a>)> {
        self.shape
            .members
            .iter()
            .filter_map(|(k, r)| Self::of(self.model, &r.shape).map(|s| (k.as_str(), s)))
            .collect()
    }

    /// A structure's required member names.
    pub fn required(&self) -> &'a [String] {
        &self.shape.required
    }

    /// Whether exactly one member may be set.
    pub fn is_union(&self) -> bool {
        self.shape.union
    }

    /// A list's element shape.
    pub fn list_member(&self) -> Option<ShapeView<'a>> {
        Self::of(self.model, &self.shape.member.as_ref()?.shape)
    }

    /// A map's key shape.
    pub fn map_key(&self) -> Option<ShapeView<'a>> {
        Self::of(self.model, &self.shape.key.as_ref()?.shape)
    }

    /// A map's value shape.
    pub fn map_value(&self) -> Option<ShapeView<'a>> {
        Self::of(self.model, &self.shape.value.as_ref()?.shape)
    }

    /// A string's allowed values, when it is an enum.
    pub fn enum_values(&self) -> Option<&'a [String]> {
        self.shape.enum_values.as_deref()
    }

    /// The `min` constraint (length of a string or list, value of a number).
    pub fn min(&self) -> Option<f64> {
        self.shape.min
    }
}

impl<'a> Operation<'a> {
    /// The input structure, if the operation takes input.
    pub fn input(&self) -> Option<ShapeView<'a>> {
        ShapeView::of(self.model, self.def.input.as_deref()?)
    }
}
