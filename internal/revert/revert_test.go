package revert

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestStack(t *testing.T) {
	tests := []struct {
		name    string
		success bool
		fail    bool
		want    []int
		wantErr bool
	}{
		{name: "failure runs undos in reverse", want: []int{3, 2, 1}},
		{name: "success runs nothing", success: true, want: nil},
		{name: "an undo error is reported and the rest still run", fail: true, want: []int{3, 2, 1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			s := New()
			for i := 1; i <= 3; i++ {
				s.Add(func(context.Context) error {
					got = append(got, i)
					if tt.fail && i == 2 {
						return errors.New("boom")
					}
					return nil
				})
			}
			if tt.success {
				s.Success()
			}
			err := s.Fail(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("undos ran %v, want %v", got, tt.want)
			}
			if again := s.Fail(context.Background()); again != nil || len(got) != len(tt.want) {
				t.Fatalf("second Fail ran undos again")
			}
		})
	}
}

func TestCloneKeepsUndosAfterSuccess(t *testing.T) {
	ran := 0
	s := New()
	s.Add(func(context.Context) error { ran++; return nil })
	later := s.Clone()
	s.Success()
	if err := s.Fail(context.Background()); err != nil || ran != 0 {
		t.Fatalf("Fail after Success ran undos")
	}
	if err := later.Fail(context.Background()); err != nil || ran != 1 {
		t.Fatalf("clone did not run its undo: ran=%d err=%v", ran, err)
	}
}
