package sqlite

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
)

// driverStmts are the statements of a connection's reads of one row
// (sqlstore.RowReader) and the writer's writes of one row
// (sqlstore.RowWriter), prepared on the driver's connection under a
// *sql.Conn. Reading the row straight from the driver spares
// database/sql's Rows (its locks, its Scan, its dependency tracking) and
// the step that would only find that there is no second row: a tenth of
// the server's time for a read of one record by key.
type driverStmts struct {
	stmts map[string]driver.Stmt
	args  []driver.NamedValue // readRow's buffer of parameters
}

// readRow runs text on conn's driver connection and stores the values of
// its first row in dest (a []byte copied), reporting whether there was
// one. The statement is reset after the first row: a write's RETURNING
// has made all its changes by then (https://sqlite.org/lang_returning.html).
func (d *driverStmts) readRow(conn *sql.Conn, text string, args []any, dest []any) (found bool, err error) {
	err = d.run(conn, "read", text, args, func(s driver.Stmt) error {
		q, ok := s.(driver.StmtQueryContext)
		if !ok {
			return fmt.Errorf("sqlite: the driver's statement %T cannot query", s)
		}
		rows, err := q.QueryContext(uncancellable, d.args)
		if err != nil {
			return err
		}
		if n := len(rows.Columns()); n != len(dest) {
			rows.Close()
			return fmt.Errorf("sqlite: %d columns for %d values", n, len(dest))
		}
		vals := make([]driver.Value, len(dest))
		err = rows.Next(vals)
		cerr := rows.Close()
		switch {
		case err == io.EOF:
			return cerr
		case err != nil:
			return err
		case cerr != nil:
			return cerr
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = bytes.Clone(b)
			}
			dest[i] = v
		}
		found = true
		return nil
	})
	return found, err
}

// writeRow runs text, a write, on conn's driver connection and reports
// how many rows it changed (sqlstore.RowWriter).
func (d *driverStmts) writeRow(conn *sql.Conn, text string, args []any) (n int64, err error) {
	err = d.run(conn, "write", text, args, func(s driver.Stmt) error {
		x, ok := s.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("sqlite: the driver's statement %T cannot execute", s)
		}
		res, err := x.ExecContext(uncancellable, d.args)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// run calls fn on conn's driver connection with text's statement, its
// parameters args in d.args (cleared after: the values are the
// caller's). what names the statement's kind in the error of a panic.
func (d *driverStmts) run(conn *sql.Conn, what, text string, args []any, fn func(driver.Stmt) error) error {
	return conn.Raw(func(dc any) (err error) {
		// A panic out of Raw's function makes database/sql close the
		// connection for good: the writer's, or a pooled reader's.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("sqlite: a %s of one row panicked: %v", what, r)
			}
		}()
		s, err := d.stmt(dc, text)
		if err != nil {
			return err
		}
		if err := d.setArgs(args); err != nil {
			return err
		}
		defer clear(d.args)
		return fn(s)
	})
}

// setArgs converts args into d.args, the driver's parameters.
func (d *driverStmts) setArgs(args []any) error {
	d.args = d.args[:0]
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			clear(d.args)
			return fmt.Errorf("sqlite: parameter %d: %w", i+1, err)
		}
		d.args = append(d.args, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return nil
}

// stmt returns the statement of text prepared on dc, from the cache or
// prepared now and kept; a full cache first closes and drops one.
func (d *driverStmts) stmt(dc any, text string) (driver.Stmt, error) {
	if s, ok := d.stmts[text]; ok {
		return s, nil
	}
	c, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("sqlite: the driver's connection %T cannot prepare", dc)
	}
	s, err := c.PrepareContext(uncancellable, text)
	if err != nil {
		return nil, err
	}
	if d.stmts == nil {
		d.stmts = map[string]driver.Stmt{}
	}
	if len(d.stmts) >= maxCachedStatements {
		for k, old := range d.stmts {
			old.Close()
			delete(d.stmts, k)
			break
		}
	}
	d.stmts[text] = s
	return s, nil
}

// close closes the statements; conn is the connection they belong to.
func (d *driverStmts) close(conn *sql.Conn) {
	conn.Raw(func(any) error {
		for k, s := range d.stmts {
			s.Close()
			delete(d.stmts, k)
		}
		return nil
	})
}
