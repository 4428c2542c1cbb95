package instance

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// BaseCurrency is the base currency of every instance: US dollars, with a
// GUID made from its code, so that two instances (a sync's source and
// target) hold it under the same id.
var BaseCurrency = struct {
	ID                 uuid.UUID
	Code, Name, Symbol string
	Precision          int64
}{uuid.NewSHA1(uuid.NameSpaceURL, []byte("eventual:transactioncurrency:USD")), "USD", "US Dollar", "$", 2}

var one = eventual.Decimal{Units: 1e10, Scale: eventual.ExchangeRatePrecision}

// EnsureBaseCurrency records the base currency, with exchange rate 1, if
// the schema has currencies and it is not there yet.
func (in *Instance) EnsureBaseCurrency(ctx context.Context) error {
	t := in.Schema.Table(eventual.CurrencyTable)
	if t == nil {
		return nil
	}
	err := in.Store.Update(ctx, func(tx eventual.Tx) error {
		if _, err := tx.Get(ctx, t, BaseCurrency.ID, []*eventual.Column{}); err == nil {
			return nil
		} else if !errors.Is(err, eventual.ErrNotFound) && eventual.ErrorKind(err) != eventual.KindNotFound {
			return err
		}
		sys := eventual.WithCaller(ctx, eventual.Caller{UserID: in.Meta.UserID})
		rec, err := in.buildCreate(sys, tx, &eventual.Entity{Table: t, ID: BaseCurrency.ID, Values: eventual.Values{
			"currencyname": BaseCurrency.Name, "isocurrencycode": BaseCurrency.Code, "currencysymbol": BaseCurrency.Symbol,
			"exchangerate": one, "currencyprecision": BaseCurrency.Precision}}, nil)
		if err != nil {
			return err
		}
		return tx.Insert(ctx, rec)
	})
	var conflict *eventual.ConflictError
	if err != nil && !errors.As(err, &conflict) {
		return fmt.Errorf("instance: record the base currency: %w", err)
	}
	return nil
}

// rate returns the exchange rate of a currency: 1 for the base currency
// (no read), the currency record's otherwise.
func (in *Instance) rate(ctx context.Context, tx eventual.Tx, ref eventual.EntityReference) (eventual.Decimal, error) {
	if ref.ID == BaseCurrency.ID {
		return one, nil
	}
	t := in.Schema.Table(eventual.CurrencyTable)
	if tx == nil || t == nil {
		return eventual.Decimal{}, fmt.Errorf("instance: the exchange rate of currency %s needs a transaction", ref.ID)
	}
	rec, err := tx.Get(ctx, t, ref.ID, []*eventual.Column{t.Column("exchangerate")})
	if err != nil {
		if errors.Is(err, eventual.ErrNotFound) {
			return eventual.Decimal{}, eventual.Errorf(eventual.KindNotFound, eventual.CodeObjectDoesNotExist, "transactioncurrency With Id = %s Does Not Exist", ref.ID)
		}
		return eventual.Decimal{}, err
	}
	r, ok := rec.Values["exchangerate"].(eventual.Decimal)
	if !ok || r.Units <= 0 {
		return one, nil
	}
	return r, nil
}

// toBase converts an amount to the base currency: amount ÷ rate, rounded
// half away from zero to the amount's scale.
func toBase(amount, rate eventual.Decimal) eventual.Decimal {
	if rate == one {
		return amount // the base currency: no division
	}
	num := new(big.Rat).SetFrac(big.NewInt(amount.Units), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(amount.Scale)), nil))
	den := new(big.Rat).SetFrac(big.NewInt(rate.Units), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(rate.Scale)), nil))
	q := new(big.Rat).Quo(num, den)
	q.Mul(q, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(amount.Scale)), nil)))
	// Round half away from zero.
	n, d := q.Num(), q.Denom()
	quo, rem := new(big.Int).QuoRem(n, d, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(rem), big.NewInt(2)).Cmp(d) >= 0 {
		if n.Sign() < 0 {
			quo.Sub(quo, big.NewInt(1))
		} else {
			quo.Add(quo, big.NewInt(1))
		}
	}
	if !quo.IsInt64() {
		return eventual.Decimal{Units: 0, Scale: amount.Scale}
	}
	return eventual.Decimal{Units: quo.Int64(), Scale: amount.Scale}
}

// currencyCreate sets a new record's currency (the base one unless the
// write bound another), its exchange rate, and the base value of each of
// its money columns.
func (in *Instance) currencyCreate(ctx context.Context, tx eventual.Tx, t *eventual.Table, vals eventual.Values) error {
	if !t.HasCurrency() {
		return nil
	}
	ref, ok := vals[eventual.ColumnCurrency].(eventual.EntityReference)
	if !ok {
		ref = eventual.Ref(in.Schema.Table(eventual.CurrencyTable), BaseCurrency.ID)
		vals[eventual.ColumnCurrency] = ref
	}
	return in.convert(ctx, tx, t, ref, vals, vals)
}

// convert sets the exchange rate and the base values of the money columns
// in vals (from the values in money) at the currency's rate.
func (in *Instance) convert(ctx context.Context, tx eventual.Tx, t *eventual.Table, ref eventual.EntityReference, money, vals eventual.Values) error {
	r, err := in.rate(ctx, tx, ref)
	if err != nil {
		return err
	}
	vals[eventual.ColumnExchangeRate] = r
	for _, c := range t.Columns {
		bc := t.BaseColumn(c)
		if bc == nil {
			continue
		}
		v, ok := money[c.LogicalName]
		if !ok {
			continue
		}
		if d, ok := v.(eventual.Decimal); ok {
			vals[bc.LogicalName] = toBase(d, r)
		} else {
			vals[bc.LogicalName] = nil
		}
	}
	return nil
}

// currencyUpdate keeps an updated record's base values: when the write
// changes a money column or the currency, the rate is the currency's now
// and the base values follow (all of them when the currency changed).
func (in *Instance) currencyUpdate(ctx context.Context, tx eventual.Tx, existing *eventual.Record, vals eventual.Values) error {
	t := existing.Table
	if !t.HasCurrency() {
		return nil
	}
	_, currencyChanged := vals[eventual.ColumnCurrency]
	moneyChanged := false
	for _, c := range t.Columns {
		if _, ok := vals[c.LogicalName]; ok && t.BaseColumn(c) != nil {
			moneyChanged = true
		}
	}
	if !currencyChanged && !moneyChanged {
		return nil
	}
	if currencyChanged && vals[eventual.ColumnCurrency] == nil {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeRequiredFieldMissing,
			"A validation error occurred. The transactioncurrencyid attribute of the %s entity is required when it has money values.", t.LogicalName)
	}
	// What the write does not set comes from the stored record.
	money := eventual.Values{}
	var need []*eventual.Column
	for _, c := range t.Columns {
		if t.BaseColumn(c) == nil && c.LogicalName != eventual.ColumnCurrency {
			continue
		}
		if v, ok := vals[c.LogicalName]; ok {
			money[c.LogicalName] = v
		} else if v, ok := existing.Values[c.LogicalName]; ok {
			money[c.LogicalName] = v
		} else {
			need = append(need, c)
		}
	}
	if len(need) > 0 && (currencyChanged || needsCurrency(need)) {
		stored, err := tx.Get(ctx, t, existing.ID, need)
		if err != nil {
			return err
		}
		for _, c := range need {
			money[c.LogicalName] = stored.Values[c.LogicalName]
		}
	}
	ref, ok := money[eventual.ColumnCurrency].(eventual.EntityReference)
	if !ok {
		ref = eventual.Ref(in.Schema.Table(eventual.CurrencyTable), BaseCurrency.ID)
		vals[eventual.ColumnCurrency] = ref
	}
	if !currencyChanged {
		// Only the money columns written get new base values.
		for name := range money {
			if _, ok := vals[name]; !ok && name != eventual.ColumnCurrency {
				delete(money, name)
			}
		}
	}
	return in.convert(ctx, tx, t, ref, money, vals)
}

func needsCurrency(cols []*eventual.Column) bool {
	for _, c := range cols {
		if c.LogicalName == eventual.ColumnCurrency {
			return true
		}
	}
	return false
}
