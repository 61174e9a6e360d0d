//! GOSPA / OSPA scoring of a picture file against a truth file.
