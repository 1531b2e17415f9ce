package s3store

// RegistryURLForm lets the external tests tell the fixed usage hint from an
// echo of the value.
const RegistryURLForm = registryURLForm
