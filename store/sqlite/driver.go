package sqlite

// The one SQLite driver the store links. DRIVERS.md records why this one;
// the store speaks only database/sql and DSN parameters both candidates
// understand (_pragma, _txlock), so the comparison benchmark can open the
// same store on the other driver.
import _ "modernc.org/sqlite"

// driverName is the database/sql name the imported driver registers.
const driverName = "sqlite"
