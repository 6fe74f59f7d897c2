"""The inbox's business logic. Routes parse input and call one of these; these raise `inbox.errors`."""
